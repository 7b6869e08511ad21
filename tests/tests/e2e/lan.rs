//! Hosts, each in its own network namespace, on one bridged LAN:
//!
//! ```text
//!   quire<pid>-<k>h1 (10.77.0.1) ──veth──┐
//!   quire<pid>-<k>h2 (10.77.0.2) ──veth──┼── br0 in quire<pid>-<k>br
//!   quire<pid>-<k>h3 (10.77.0.3) ──veth──┘
//! ```
//!
//! `<k>` counts the LANs of this test process, so tests running side by side each get their own.
//! A host's cable can be pulled (its bridge port goes down), and with `nft` from nftables the
//! bridge can drop the traffic between chosen pairs of hosts, silently, as a broken switch
//! would: a partition into any groups, not only one host cut off.
//!
//! Needs root (or CAP_NET_ADMIN) and `ip` from iproute2. Tests that cannot build a LAN say so
//! on stderr with [`unavailable`] and pass; `QUIRE_REQUIRE_NETNS=1` makes that a failure instead.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The LANs this process has made, for unique namespace names.
static LANS: AtomicUsize = AtomicUsize::new(0);

/// The bridge's nftables table: frames between any pair in the set `cut` are dropped.
const FIREWALL: &str = "table bridge quire {
    set cut { type ipv4_addr . ipv4_addr; }
    chain forward { type filter hook forward priority 0; ip saddr . ip daddr @cut drop; }
}
";

/// Runs `ip` with `args`; the error names the command and what it said.
pub fn ip(args: &[&str]) -> Result<(), String> {
    run("ip", args, None)
}

/// Runs `program` with `args` and `input` on its stdin; the error names the command and what it
/// said.
fn run(program: &str, args: &[&str], input: Option<&str>) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let _ = stdin.write_all(input.unwrap_or_default().as_bytes());
    drop(stdin);
    let out = child
        .wait_with_output()
        .map_err(|e| format!("`{program}` did not finish: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The namespaces and links; deleted on drop (which also deletes the veths inside them).
pub struct Lan {
    bridge: String,
    hosts: Vec<String>,
    created: Vec<String>,
}

impl Lan {
    /// A bridge namespace and `count` host namespaces, host `n` at `10.77.0.n/24` on `eth0`.
    pub fn new(count: usize) -> Result<Lan, String> {
        Lan::sweep();
        let prefix = format!(
            "quire{}-{}",
            std::process::id(),
            LANS.fetch_add(1, Ordering::Relaxed)
        );
        let mut lan = Lan {
            bridge: format!("{prefix}br"),
            hosts: (1..=count).map(|n| format!("{prefix}h{n}")).collect(),
            created: Vec::new(),
        };
        ip(&["netns", "add", &lan.bridge])?;
        lan.created.push(lan.bridge.clone());
        let br = lan.bridge.clone();
        ip(&["-n", &br, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &br, "link", "set", "br0", "up"])?;
        for (i, ns) in lan.hosts.clone().iter().enumerate() {
            let port = Lan::port(i + 1);
            let addr = format!("{}/24", Lan::addr(i + 1));
            ip(&["netns", "add", ns])?;
            lan.created.push(ns.clone());
            ip(&[
                "-n", &br, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns",
                ns,
            ])?;
            ip(&["-n", &br, "link", "set", &port, "master", "br0"])?;
            ip(&["-n", &br, "link", "set", &port, "up"])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            ip(&["-n", ns, "addr", "add", &addr, "dev", "eth0"])?;
            ip(&["-n", ns, "link", "set", "eth0", "up"])?;
        }
        Ok(lan)
    }

    /// Deletes namespaces left by runs that were killed before their cleanup: `quire<pid>-*`
    /// whose process is gone.
    fn sweep() {
        let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
            return;
        };
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            let Some((pid, _)) = name.strip_prefix("quire").and_then(|r| r.split_once('-')) else {
                continue;
            };
            let gone = pid.parse::<u32>().is_ok_and(|pid| {
                pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()
            });
            if gone && ip(&["netns", "del", name]).is_ok() {
                eprintln!("netns: deleted `{name}`, left by an earlier run");
            }
        }
    }

    /// Host `n`'s namespace (from 1).
    pub fn namespace(&self, n: usize) -> &str {
        &self.hosts[n - 1]
    }

    /// Host `n`'s address (from 1).
    pub fn addr(n: usize) -> String {
        format!("10.77.0.{n}")
    }

    /// Host `n`'s port on the bridge.
    fn port(n: usize) -> String {
        format!("h{n}")
    }

    /// Pulls host `n`'s cable: its bridge port goes down, and its `eth0` loses carrier.
    pub fn cut(&self, n: usize) {
        ip(&["-n", &self.bridge, "link", "set", &Lan::port(n), "down"]).expect("cut the link");
    }

    /// Plugs host `n` back in.
    pub fn heal(&self, n: usize) {
        ip(&["-n", &self.bridge, "link", "set", &Lan::port(n), "up"]).expect("heal the link");
    }

    /// Loads the bridge's firewall, which [`Lan::block`] fills; fails without `nft`.
    pub fn firewall(&self) -> Result<(), String> {
        self.nft(&["-f", "-"], Some(FIREWALL))
    }

    /// From now on the bridge drops every frame between the hosts of each pair in `pairs`
    /// (both ways) and forwards all others; an empty list heals every partition.
    pub fn block(&self, pairs: &[(usize, usize)]) {
        self.nft(&["flush", "set", "bridge", "quire", "cut"], None)
            .expect("flush the cut set");
        if pairs.is_empty() {
            return;
        }
        let elements: Vec<String> = pairs
            .iter()
            .flat_map(|&(a, b)| [(a, b), (b, a)])
            .map(|(a, b)| format!("{} . {}", Lan::addr(a), Lan::addr(b)))
            .collect();
        let set = format!("{{ {} }}", elements.join(", "));
        self.nft(&["add", "element", "bridge", "quire", "cut", &set], None)
            .expect("fill the cut set");
    }

    /// `nft` in the bridge's namespace.
    fn nft(&self, args: &[&str], input: Option<&str>) -> Result<(), String> {
        let mut all = vec!["netns", "exec", &self.bridge, "nft"];
        all.extend_from_slice(args);
        run("ip", &all, input)
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in self.created.iter().rev() {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

/// Says loudly that a test cannot run here, past the test harness's output capture; `needs`
/// says what it would take.
pub fn unavailable(reason: &str, needs: &str) {
    use std::io::Write;
    assert!(
        std::env::var_os("QUIRE_REQUIRE_NETNS").is_none(),
        "network namespaces unavailable and QUIRE_REQUIRE_NETNS is set: {reason}"
    );
    let rule = "*".repeat(72);
    let _ = writeln!(
        std::io::stderr().lock(),
        "\n{rule}\nSKIPPED: {reason}\n({needs})\n{rule}\n"
    );
}
