//! One device under test: a data dir, its `quire serve`, and `quire` commands on it, run either
//! inside a host's network namespace on a [`Lan`] or on plain loopback. Relays and mDNS are
//! always off, so peers reach each other only through the addresses they were given.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::lan::Lan;

/// How often a condition is checked.
pub const POLL: Duration = Duration::from_millis(200);

/// One host: a namespace (or none, for loopback), a data dir and, once started, its `quire serve`.
pub struct Host {
    /// Its number, from 1.
    pub n: usize,
    /// The network namespace it runs in; `None` on loopback.
    ns: Option<String>,
    pub data: tempfile::TempDir,
    server: Option<Child>,
    /// What the server printed, stdout and stderr, shown if the test fails.
    log: Arc<Mutex<Vec<String>>>,
}

impl Host {
    /// Host `n` of `lan`, serving on `10.77.0.n:7400`.
    pub fn in_lan(lan: &Lan, n: usize) -> Host {
        Host::new(n, Some(lan.namespace(n).to_string()))
    }

    /// Host `n` on loopback, serving on an ephemeral port of 127.0.0.1.
    pub fn on_loopback(n: usize) -> Host {
        Host::new(n, None)
    }

    fn new(n: usize, ns: Option<String>) -> Host {
        Host {
            n,
            ns,
            data: tempfile::tempdir().unwrap(),
            server: None,
            log: Arc::default(),
        }
    }

    /// `quire` on this host's data dir (inside its namespace, if any), relays and mDNS off.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = match &self.ns {
            Some(ns) => {
                let mut cmd = Command::new("ip");
                cmd.args(["netns", "exec", ns])
                    .arg(quire_tests::quire_bin());
                cmd
            }
            None => Command::new(quire_tests::quire_bin()),
        };
        cmd.args(["--relay", "off", "--mdns", "false"])
            .args(args)
            .env("QUIRE_DATA_DIR", self.data.path())
            .env_remove("QUIRE_GROUP");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("quire runs")
    }

    /// Runs `quire` and expects it to succeed; returns its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "host {}: quire {args:?} failed: {}",
            self.n,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// The address `quire serve` binds.
    fn bind(&self) -> String {
        match self.ns {
            Some(_) => format!("{}:7400", Lan::addr(self.n)),
            None => "127.0.0.1:0".to_string(),
        }
    }

    /// `quire serve`; returns once it is serving.
    pub fn serve(&mut self) {
        let bind = self.bind();
        let mut cmd = self.command(&["serve", "--bind", &bind]);
        if std::env::var_os("QUIRE_LOG").is_none() {
            cmd.env("QUIRE_LOG", "quire_sync=info,warn");
        }
        cmd.env("NO_COLOR", "1");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("quire serve starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        drain(child.stderr.take().expect("piped"), "err", self.log.clone());
        self.server = Some(child);
        let mut first = String::new();
        let _ = stdout.read_line(&mut first);
        let first = first.trim_end();
        self.log.lock().unwrap().push(format!("out: {first}"));
        assert!(
            first.starts_with("serving as ") && (self.ns.is_none() || first.contains(&bind)),
            "host {}: quire serve did not start: {first:?}",
            self.n
        );
        drain(stdout, "out", self.log.clone());
    }

    /// The pid of the running `quire serve` (`ip netns exec` execs it, so the same process).
    pub fn server_pid(&self) -> u32 {
        self.server.as_ref().expect("serving").id()
    }

    /// SIGTERM, as a service manager would: the node closes its connections and exits 0.
    pub fn stop(&mut self) {
        let mut child = self.server.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "host {}: serve exited with {status}",
                    self.n
                );
                return;
            }
            assert!(
                Instant::now() < deadline,
                "host {}: quire serve did not stop on SIGTERM",
                self.n
            );
            std::thread::sleep(POLL);
        }
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).expect("quire prints JSON")
    }

    pub fn status(&self) -> Value {
        self.json(&["status"])
    }

    /// The titles in the queue, sorted.
    pub fn titles(&self) -> Vec<String> {
        let mut titles: Vec<String> = self
            .json(&["queue"])
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["title"].as_str().map(String::from))
            .collect();
        titles.sort();
        titles
    }

    /// `display_name`'s bio as this host sees it.
    pub fn bio(&self, display_name: &str) -> Option<String> {
        let members = self.json(&["members"]);
        members
            .as_array()?
            .iter()
            .find(|m| m["profile"]["display_name"] == display_name)?["profile"]["bio"]
            .as_str()
            .map(String::from)
    }

    /// Writes a one-line piece into the data dir and submits it; the error is what `quire`
    /// said. One submitter per host at a time: they share the piece's file.
    pub fn try_submit(&self, title: &str) -> Result<(), String> {
        let file = self.data.path().join("piece.txt");
        std::fs::write(&file, format!("{title}: the first line.")).unwrap();
        let out = self.run(&[
            "submit",
            "--title",
            title,
            "--genre",
            "literary",
            "--file",
            file.to_str().unwrap(),
        ]);
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "host {}: submitting {title:?} failed ({}): {}",
                self.n,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    /// [`Host::try_submit`], which must succeed.
    pub fn submit(&self, title: &str) {
        if let Err(e) = self.try_submit(title) {
            panic!("{e}");
        }
    }

    /// Founds the group with credits off (so members can submit piece after piece) and serves.
    pub fn found(&mut self) {
        self.ok(&["init", "--name", "Tuesday Writers", "--me", "Julia Amante"]);
        self.ok(&["rules", "--set", "credits=off"]);
        self.serve();
    }

    /// Joins `founder`'s group as `name` with a one-use ticket from it, then serves.
    pub fn join(&mut self, founder: &Host, name: &str) {
        let ticket = founder.ok(&["invite", "--uses", "1", "--expires", "1h"]);
        let joined = self.ok(&["join", ticket.trim(), "--me", name]);
        assert!(joined.contains("joined `Tuesday Writers`"), "{joined}");
        self.serve();
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            let place = self.ns.as_deref().unwrap_or("loopback");
            eprintln!("--- host {} ({place}) serve log:", self.n);
            for line in self.log.lock().unwrap().iter() {
                eprintln!("  {line}");
            }
        }
    }
}

/// Keeps reading `pipe` into `log` so the server never blocks on a full pipe.
fn drain(pipe: impl Read + Send + 'static, tag: &'static str, log: Arc<Mutex<Vec<String>>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            log.lock().unwrap().push(format!("{tag}: {line}"));
        }
    });
}

/// Polls `check` until it holds; panics with `what` and the last state after `limit`.
pub fn wait_for(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Result<(), String>,
) -> Duration {
    let start = Instant::now();
    loop {
        match check() {
            Ok(()) => return start.elapsed(),
            Err(state) => assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting until {what}; last: {state}"
            ),
        }
        std::thread::sleep(POLL);
    }
}

/// `status`'s view of `device` in its one group.
fn peer<'a>(status: &'a Value, device: &Value) -> &'a Value {
    status["groups"][0]["peers"]
        .as_array()
        .and_then(|peers| peers.iter().find(|p| p["device"] == *device))
        .unwrap_or(&Value::Null)
}

/// Whether `a` and `b` say they are connected to each other and in sync.
pub fn linked(a: &Value, b: &Value) -> bool {
    [(a, b), (b, a)].iter().all(|(x, y)| {
        let p = peer(x, &y["device"]);
        x["online"] == true && p["connected"] == true && p["distance"]["state"] == "in_sync"
    })
}

/// Whether `a` says it is connected to `b`.
pub fn connected(a: &Value, b: &Value) -> bool {
    peer(a, &b["device"])["connected"] == true
}

/// How many peers `status` says it is connected to.
pub fn connections(status: &Value) -> usize {
    status["groups"][0]["peers"].as_array().map_or(0, |peers| {
        peers.iter().filter(|p| p["connected"] == true).count()
    })
}

pub fn heads(status: &Value) -> Value {
    status["groups"][0]["heads"].clone()
}

/// Host 1 is linked to every other host, and all have the same heads.
pub fn star_in_sync(hosts: &[Host]) -> Result<(), String> {
    let s: Vec<Value> = hosts.iter().map(Host::status).collect();
    let unlinked: Vec<usize> = (1..s.len()).filter(|&i| !linked(&s[0], &s[i])).collect();
    let all_heads: Vec<Value> = s.iter().map(heads).collect();
    if unlinked.is_empty() && all_heads.iter().all(|h| *h == all_heads[0]) {
        Ok(())
    } else {
        let unlinked: Vec<usize> = unlinked.iter().map(|i| i + 1).collect();
        Err(format!(
            "host 1 not linked to hosts {unlinked:?}, heads {all_heads:?}"
        ))
    }
}
