use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{init_group, quire, quire_ok};

/// A running `quire serve`, killed if the test fails before stopping it.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `quire serve` on `data`, loopback only; returns once it is serving.
fn serve(data: &Path) -> Server {
    let mut child = Command::new(quire_tests::quire_bin())
        .args(["serve", "--bind", "127.0.0.1:0"])
        .env("QUIRE_DATA_DIR", data)
        .env("QUIRE_RELAY", "off")
        .env("QUIRE_MDNS", "false")
        .env_remove("QUIRE_GROUP")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("quire serve starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    assert!(first.starts_with("serving as "), "{first}");
    // Keep draining what it logs so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server(Some(child))
}

fn stop(mut server: Server) {
    let mut child = server.0.take().expect("running");
    let pid = child.id() as i32;
    // SIGTERM, as a service manager would: the node closes its connections and exits 0.
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "quire serve exited with {status}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "quire serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn offline(data: &Path, args: &[&str]) -> String {
    let mut all = vec!["--relay", "off", "--mdns", "false"];
    all.extend_from_slice(args);
    quire_ok(data, &all, None)
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serve_invite_join_edit_and_status_as_separate_processes() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    init_group(a.path());
    let server_a = serve(a.path());

    let ticket = offline(a.path(), &["invite", "--expires", "1h"]);
    let ticket = ticket.trim();
    assert!(ticket.starts_with("quire1"), "{ticket}");
    let joined = offline(b.path(), &["join", ticket, "--me", "Bea Reyes"]);
    assert!(joined.contains("joined `Tuesday Writers`"), "{joined}");

    // The ticket was for one use.
    let c = tempfile::tempdir().unwrap();
    let again = quire(
        c.path(),
        &[
            "--relay", "off", "--mdns", "false", "join", ticket, "--me", "Cy",
        ],
        None,
    );
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("used"), "{err}");

    let server_b = serve(b.path());
    // An edit by a plain CLI process on B reaches A through both nodes.
    let piece = b.path().join("ferry.txt");
    std::fs::write(&piece, "The ferry left at night.").unwrap();
    offline(
        b.path(),
        &[
            "submit",
            "--title",
            "Night Ferry",
            "--genre",
            "ya",
            "--file",
            piece.to_str().unwrap(),
        ],
    );
    wait_for("A's queue shows B's piece", || {
        offline(a.path(), &["queue"]).contains("Night Ferry")
    });

    wait_for("A's status shows Bea connected and in sync", || {
        let json = offline(a.path(), &["status", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let peer = &v["groups"][0]["peers"][0];
        v["online"] == true
            && peer["member"] == "Bea Reyes"
            && peer["connected"] == true
            && peer["distance"]["state"] == "in_sync"
    });
    let human = offline(a.path(), &["status"]);
    assert!(
        human.contains("Bea Reyes") && human.contains("connected"),
        "{human}"
    );

    stop(server_a);
    stop(server_b);
    let after = offline(a.path(), &["status"]);
    assert!(after.contains("offline"), "{after}");
}

/// SIGKILL, as a crash or a power cut would stop it.
fn kill_hard(mut server: Server) {
    let mut child = server.0.take().expect("running");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_peer_killed_in_the_middle_of_syncing_loses_nothing() {
    let rounds: usize = std::env::var("QUIRE_SYNC_KILLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(6);
    let mut rng = fastrand::Rng::with_seed(crate::support::seed());
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    init_group(a.path());
    let server_a = serve(a.path());
    let ticket = offline(a.path(), &["invite", "--expires", "1h"]);
    offline(b.path(), &["join", ticket.trim(), "--me", "Bea Reyes"]);
    let mut server_b = serve(b.path());

    let piece = a.path().join("piece.txt");
    std::fs::write(&piece, "word ".repeat(2_000)).unwrap();
    let mut titles = Vec::new();
    for round in 0..rounds {
        // A few acknowledged edits on A while B is syncing, then B dies at a random moment.
        for i in 0..3 {
            let title = format!("Round {round} piece {i}");
            offline(
                a.path(),
                &[
                    "submit",
                    "--title",
                    &title,
                    "--genre",
                    "ya",
                    "--file",
                    piece.to_str().unwrap(),
                ],
            );
            titles.push(title);
        }
        std::thread::sleep(Duration::from_millis(rng.u64(0..150)));
        kill_hard(server_b);
        // Whatever B had written must still load.
        offline(b.path(), &["queue"]);
        server_b = serve(b.path());
    }
    wait_for("B has every piece A acknowledged", || {
        let queue = offline(b.path(), &["queue", "--json"]);
        titles.iter().all(|t| queue.contains(t.as_str()))
    });
    stop(server_a);
    stop(server_b);
    eprintln!(
        "{rounds} kills of a syncing peer, {} acknowledged edits, none lost",
        titles.len()
    );
}
