//! The victim: a real `quire serve` child process on its own data dir, loopback only, and the
//! figures read from outside it: CPU time (`/proc/<pid>/stat`), resident memory
//! (`/proc/<pid>/status`), whether it is still running.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Runs the `quire` CLI on `data`, relays and mDNS off.
pub fn quire(data: &Path, args: &[&str]) -> anyhow::Result<Output> {
    Command::new(quire_tests::quire_bin())
        .args(args)
        .env("QUIRE_DATA_DIR", data)
        .env("QUIRE_RELAY", "off")
        .env("QUIRE_MDNS", "false")
        .env_remove("QUIRE_GROUP")
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running quire {args:?}"))
}

/// Runs the `quire` CLI on `data` and returns its standard output; fails on a non-zero exit.
pub fn quire_ok(data: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = quire(data, args)?;
    if !out.status.success() {
        bail!(
            "quire {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `quire serve` on the victim's data dir, started and stopped by the harness.
#[derive(Debug)]
pub struct Victim {
    dir: PathBuf,
    log: PathBuf,
    port: u16,
    child: Option<Child>,
    /// How many times a victim process was started.
    pub starts: usize,
}

impl Victim {
    /// A victim on `dir` (already holding its group), logging to `log`; not started.
    pub fn new(dir: &Path, log: &Path) -> Victim {
        Victim {
            dir: dir.to_path_buf(),
            log: log.to_path_buf(),
            port: 0,
            child: None,
            starts: 0,
        }
    }

    /// Starts `quire serve`, on the port it had before if it ran before; returns once it says
    /// it is serving.
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.child.is_some() {
            bail!("the victim is running already");
        }
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        self.starts += 1;
        writeln!(log, "--- victim process {} ---", self.starts)?;
        let bind = format!("127.0.0.1:{}", self.port);
        let mut child = Command::new(quire_tests::quire_bin())
            .args(["serve", "--no-notify", "--bind", &bind])
            .env("QUIRE_DATA_DIR", &self.dir)
            .env("QUIRE_RELAY", "off")
            .env("QUIRE_MDNS", "false")
            .env_remove("QUIRE_GROUP")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log.try_clone()?))
            .spawn()
            .context("starting quire serve")?;
        let stdout = child.stdout.take().context("quire serve's piped stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let first = match lines.next() {
            Some(line) => line.context("reading quire serve's first line")?,
            None => {
                let status = child.wait()?;
                bail!(
                    "quire serve exited at once with {status}; see {}",
                    self.log.display()
                );
            }
        };
        writeln!(log, "{first}")?;
        // "serving as <device> on 127.0.0.1:PORT; Ctrl-C to stop"
        let port = first
            .split(" on ")
            .nth(1)
            .and_then(|rest| rest.split(';').next())
            .and_then(|addr| addr.trim().rsplit(':').next())
            .and_then(|p| p.parse::<u16>().ok())
            .with_context(|| format!("no port in quire serve's first line `{first}`"))?;
        self.port = port;
        // Keep draining what it prints so it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut log = log;
            for line in lines.map_while(Result::ok) {
                let _ = writeln!(log, "{line}");
            }
        });
        self.child = Some(child);
        Ok(())
    }

    /// Stops the process with SIGTERM (SIGKILL after 10 s); returns how it ended.
    pub fn stop(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        let Some(mut child) = self.child.take() else {
            return Ok(None);
        };
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait()? {
                return Ok(Some(status));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill()?;
        Ok(Some(child.wait()?))
    }

    /// Its data dir.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The running process's id.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// How the process ended, if it did (a crash during an attack is a finding).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// How many bytes its log holds now.
    pub fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map_or(0, |m| m.len())
    }

    /// The first `n` errors and panics in its log after byte `from`, a panic with its message
    /// (the line after) and its place in the source without the directories above the crate.
    pub fn log_errors_since(&self, from: u64, n: usize) -> Vec<String> {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let start = usize::try_from(from).unwrap_or(usize::MAX).min(text.len());
        let text = String::from_utf8_lossy(&text[start..]);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if out.len() == n {
                break;
            }
            if let Some((thread, place)) = line.split_once(" panicked at ") {
                let message = lines.get(i + 1).copied().unwrap_or_default();
                out.push(format!(
                    "{thread} panicked at {}: {message}",
                    source_place(place.trim_end_matches(':'))
                ));
            } else if line.contains("ERROR") {
                out.push(line.to_string());
            }
        }
        out
    }

    /// The last `n` lines of its log, for a report of what went wrong.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

impl Drop for Victim {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `path:line:column` of a panic from the crate's directory on (`automerge-0.12.0/src/…`,
/// `sync/src/…`): what lies above it says only where this machine keeps its sources.
fn source_place(place: &str) -> &str {
    if !place.starts_with('/') {
        return place;
    }
    let parts: Vec<(usize, &str)> = place
        .match_indices('/')
        .map(|(at, _)| at)
        .zip(place.split('/').skip(1))
        .collect();
    // The directory just above the last `src`.
    let src = parts.iter().rposition(|(_, part)| *part == "src");
    match src.and_then(|i| i.checked_sub(1)) {
        Some(crate_dir) => &place[parts[crate_dir].0 + 1..],
        None => place.rsplit('/').next().unwrap_or(place),
    }
}

/// Clock ticks per second of `/proc/<pid>/stat` times.
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .filter(|t| *t > 0)
            .unwrap_or(100)
    })
}

/// User plus system CPU time of process `pid` so far, in milliseconds.
pub fn cpu_ms(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces: count fields after it.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the line (utime, stime) are the 12th and 13th after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) * 1000 / clock_ticks())
}

/// A `kB` field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Samples a process's resident memory every 10 ms until stopped; keeps the largest.
#[derive(Debug)]
pub struct RssSampler {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RssSampler {
    /// Starts sampling `pid`.
    pub fn start(pid: u32) -> RssSampler {
        let peak = Arc::new(AtomicU64::new(status_bytes(pid, "VmRSS").unwrap_or(0)));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (peak, stop) = (peak.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(rss) = status_bytes(pid, "VmRSS") {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        RssSampler {
            peak,
            stop,
            thread: Some(thread),
        }
    }

    /// Stops sampling; the largest resident size seen, in bytes.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

/// Waits until `pid` has used no CPU tick (10 ms) over the last quarter second (it is done
/// with whatever it was doing), or `limit` passed; returns whether it went quiet.
pub fn wait_idle(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut last = cpu_ms(pid);
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let now = cpu_ms(pid);
        match (last, now) {
            (Some(a), Some(b)) if b.saturating_sub(a) < 10 => return true,
            (_, None) => return false,
            _ => {}
        }
        if Instant::now() > deadline {
            return false;
        }
        last = now;
    }
}

/// A file for the victim's log next to its data dir.
pub fn log_file(root: &Path) -> anyhow::Result<PathBuf> {
    let path = root.join("victim.log");
    File::create(&path)?;
    Ok(path)
}
