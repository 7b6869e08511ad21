//! The `quire` command line driven as a user would: a real binary, a real data dir.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

struct Quire {
    dir: tempfile::TempDir,
}

impl Quire {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A data dir holding "Tuesday Writers", founded by Julia on this device.
    fn founded() -> Self {
        let q = Self::new();
        q.ok(&["init", "--name", "Tuesday Writers", "--me", "Julia"]);
        q
    }

    fn data(&self) -> &Path {
        self.dir.path()
    }

    fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_quire"))
            .args(args)
            .env("QUIRE_DATA_DIR", self.data())
            .env_remove("QUIRE_GROUP")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, None)
    }

    fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run_with(args, stdin);
        assert!(
            out.status.success(),
            "quire {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects failure; returns the one-line error.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run_with(args, None);
        assert!(!out.status.success(), "quire {args:?} should fail");
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        err.trim_end().to_string()
    }
}

#[test]
fn a_member_submits_and_the_queue_shows_it() {
    let q = Quire::new();
    q.ok(&["init", "--name", "Tuesday Writers", "--me", "Julia Amante"]);
    q.ok(&[
        "profile",
        "--pen-name",
        "J. Amante",
        "--genres",
        "historical fiction,ya",
        "--roles",
        "writer,beta-reader",
        "--capacity",
        "4",
        "--links",
        "website=https://example.org",
        "--hiatus-until",
        "2027-01-10",
    ]);
    let members: serde_json::Value =
        serde_json::from_str(&q.ok(&["members", "--genre", "YA", "--json"])).unwrap();
    assert_eq!(members[0]["profile"]["display_name"], "Julia Amante");
    assert_eq!(members[0]["profile"]["roles"][1], "beta-reader");
    assert_eq!(
        q.ok(&["members", "--role", "mentor"]).trim(),
        "no members match"
    );

    let id = q
        .ok_with(
            &[
                "submit",
                "--title",
                "The Mill",
                "--genre",
                "Historical Fiction",
                "--due",
                "2099-12-01",
                "--wanted",
                "2",
            ],
            Some("The mill wheel turned all night.\n"),
        )
        .trim()
        .to_string();
    assert_eq!(id.len(), 32);
    let queue: serde_json::Value = serde_json::from_str(&q.ok(&["queue", "--json"])).unwrap();
    assert_eq!(queue[0]["title"], "The Mill");
    assert_eq!(queue[0]["word_count"], 6);
    assert_eq!(queue[0]["status"], "open");
    assert_eq!(queue[0]["due_at"], "2099-12-01");
    let show = q.ok(&["show", &id[..6]]);
    assert!(show.contains("The mill wheel turned all night."), "{show}");

    let err = q.fails(&["claim", &id[..6]]);
    assert_eq!(
        err,
        format!("quire: `The Mill ({})` is your own submission", &id[..8])
    );
    q.ok(&["withdraw", &id]);
    let queue = q.ok(&["queue"]);
    assert!(queue.contains("withdrawn"), "{queue}");
}

#[test]
fn bad_input_gets_one_line_naming_it() {
    let q = Quire::new();
    let err = q.fails(&["queue"]);
    assert!(err.contains("no groups in"), "{err}");
    let err = q.fails(&["--data-dir", "/proc/no-such-dir/quire", "queue"]);
    assert_eq!(
        err,
        "quire: cannot create directory `/proc/no-such-dir/quire/groups`: No such file or directory (os error 2)"
    );
    q.ok(&["init", "--name", "Tuesday Writers", "--me", "Julia"]);
    let err = q.fails(&[
        "submit",
        "--title",
        "X",
        "--genre",
        "ya",
        "--due",
        "tomorrow",
        "--file",
        "/dev/null",
    ]);
    assert_eq!(
        err,
        "quire: due date `tomorrow` is not a date like 2026-12-01"
    );
    let err = q.fails(&[
        "submit",
        "--title",
        "X",
        "--genre",
        "ya",
        "--file",
        "/nonexistent/piece.txt",
    ]);
    assert!(
        err.starts_with("quire: cannot read text from `/nonexistent/piece.txt`"),
        "{err}"
    );
    let err = q.fails(&["profile", "--roles", "wizard"]);
    assert!(err.starts_with("quire: unknown role `wizard`"), "{err}");
    let err = q.fails(&["show", "ffff"]);
    assert_eq!(err, "quire: no submission `ffff` in this group");
    let err = q.fails(&["rate", "abcd", "9"]);
    assert_eq!(err, "quire: no critique `abcd` in this group");
}

#[test]
fn several_groups_need_a_choice() {
    let q = Quire::founded();
    q.ok(&["init", "--name", "Poetry Circle", "--me", "Julia"]);
    let err = q.fails(&["queue"]);
    assert!(err.contains("holds several groups"), "{err}");
    assert!(
        q.ok(&["--group", "poetry circle", "queue"])
            .contains("queue is empty")
    );
    let groups: serde_json::Value = serde_json::from_str(&q.ok(&["groups", "--json"])).unwrap();
    assert_eq!(groups.as_array().unwrap().len(), 2);
}

#[test]
fn export_writes_every_format_whole() {
    let q = Quire::founded();
    q.ok_with(
        &["submit", "--title", "The Mill", "--genre", "ya"],
        Some("Text, with \"quotes\"."),
    );
    let md = q.ok(&["export", "--format", "md"]);
    assert!(md.starts_with("# Tuesday Writers"), "{md}");
    assert!(md.contains("### The Mill"), "{md}");
    let out = q.data().join("export.json");
    q.ok(&["export", "--out", out.to_str().unwrap()]);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(json["submissions"][0]["text"], "Text, with \"quotes\".");
    let csv_dir = q.data().join("csv");
    q.ok(&[
        "export",
        "--format",
        "csv",
        "--out",
        csv_dir.to_str().unwrap(),
    ]);
    let subs = std::fs::read_to_string(csv_dir.join("submissions.csv")).unwrap();
    assert!(subs.lines().nth(1).unwrap().contains("The Mill"), "{subs}");
    assert!(csv_dir.join("members.csv").exists() && csv_dir.join("critiques.csv").exists());
}

#[test]
fn a_closed_pipe_ends_output_quietly() {
    let q = Quire::founded();
    let long = "word ".repeat(200_000);
    q.ok_with(&["submit", "--title", "Long", "--genre", "ya"], Some(&long));
    let mut child = Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(["export", "--format", "md"])
        .env("QUIRE_DATA_DIR", q.data())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The reader goes away at once, as `quire export | head -1` does.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn a_second_submission_is_refused_with_the_numbers_and_the_ledger_explains_why() {
    let q = Quire::founded();
    q.ok_with(
        &["submit", "--title", "The Mill", "--genre", "ya"],
        Some("The mill wheel turned."),
    );
    let out = q.run_with(
        &["submit", "--title", "Chapter 2", "--genre", "ya"],
        Some("More."),
    );
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "quire: 'Chapter 2' needs 7 credits, you have 0 — critique a piece to earn more"
    );
    let ledger = q.ok(&["ledger"]);
    assert!(ledger.starts_with("Julia: 0 credits"), "{ledger}");
    assert!(ledger.contains("+3 joined the group"), "{ledger}");
    assert!(
        ledger.contains("\u{2212}3 submitted 'The Mill'"),
        "{ledger}"
    );
    let json: serde_json::Value = serde_json::from_str(&q.ok(&["ledger", "--json"])).unwrap();
    assert_eq!(json["balance"], 0);
    assert_eq!(json["entries"].as_array().unwrap().len(), 2);
    assert_eq!(json["entries"][1]["kind"], "submitted");
    let queue: serde_json::Value = serde_json::from_str(&q.ok(&["queue", "--json"])).unwrap();
    assert_eq!(
        queue.as_array().unwrap().len(),
        1,
        "the refused piece wrote nothing"
    );
}

#[test]
fn the_organizer_changes_rules_and_activity_shows_it() {
    let q = Quire::founded();
    let rules = q.ok(&[
        "rules",
        "--set",
        "claim_period_days=5",
        "--set",
        "credits=off",
    ]);
    assert!(rules.contains("claim_period_days  5"), "{rules}");
    let json: serde_json::Value = serde_json::from_str(&q.ok(&["rules", "--json"])).unwrap();
    assert_eq!(json["credits"], "off");
    assert_eq!(
        q.fails(&["rules", "--set", "claim_days=5"]),
        format!(
            "quire: unknown rule `claim_days`; rules are critiques_wanted, claim_period_days, max_words, credits, starting_credits, submission_cost, extra_open_cost, tip"
        )
    );
    assert_eq!(
        q.fails(&["rules", "--set", "critiques_wanted=50"]),
        "quire: rule critiques_wanted cannot be `50`; it takes a whole number from 1 to 20"
    );
    // Without credits, submitting twice is fine.
    for title in ["One", "Two"] {
        q.ok_with(
            &["submit", "--title", title, "--genre", "ya"],
            Some("Text."),
        );
    }
    let activity = q.ok(&["activity"]);
    let lines: Vec<&str> = activity.lines().collect();
    assert_eq!(lines.len(), 4, "{activity}");
    assert!(lines[0].ends_with("Julia  submitted 'Two'"), "{activity}");
    assert!(
        activity.contains("Julia  changed the rules: claim_period_days=5 credits=off"),
        "{activity}"
    );
    assert!(
        lines[3].ends_with("created the group 'Tuesday Writers'"),
        "{activity}"
    );
    let later = q.ok(&["activity", "--since", "2999-01-01"]);
    assert_eq!(later.trim(), "nothing happened in this period");
    // Alone in the group, there is nothing to critique.
    assert!(q.ok(&["next"]).contains("nothing to critique"));
    let next: serde_json::Value = serde_json::from_str(&q.ok(&["next", "--json"])).unwrap();
    assert_eq!(next.as_array().unwrap().len(), 0);
    let me = q.ok(&["member", "julia"]);
    assert!(me.contains("no claims settled yet"), "{me}");
}

#[test]
fn the_inbox_lists_a_new_critique_unread_until_the_piece_is_shown() {
    use quire_store::ops::{self, NewMember};
    use quire_store::storage::{DataDir, StorageOptions};
    use quire_store::{CritiqueId, DeviceId, Group, MemberId, SubmissionId};

    let q = Quire::founded();
    assert_eq!(
        q.ok(&["inbox"]).trim(),
        "nothing needs you now; `quire next` suggests a piece to critique"
    );
    let id = q
        .ok_with(
            &["submit", "--title", "The Mill", "--genre", "literary"],
            Some("The mill wheel turned all night.\n"),
        )
        .trim()
        .parse::<SubmissionId>()
        .unwrap();

    // Ben joins on a device of his own and critiques it, as another process.
    let data = DataDir::open(q.data()).unwrap();
    let group = data.group_ids().unwrap()[0];
    let device = DeviceId::from_bytes([42; 32]);
    let mut ben = Group::open(&data, group, device, StorageOptions::default()).unwrap();
    let now = jiff::Timestamp::now();
    let new = NewMember {
        id: MemberId::random(),
        display_name: "Ben".into(),
        device,
        device_label: "phone".into(),
    };
    ops::add_member(ben.storage_mut().doc_mut(), new, now).unwrap();
    ben.persist().unwrap();
    ben.act(|doc, me| ops::claim(doc, me, id, now)).unwrap();
    ben.act(|doc, me| ops::critique(doc, me, id, CritiqueId::random(), "Vivid wheel.", now))
        .unwrap();

    let inbox = q.ok(&["inbox"]);
    assert!(inbox.starts_with("* "), "{inbox}");
    assert!(inbox.contains("Ben critiqued “The Mill”"), "{inbox}");
    let json: serde_json::Value = serde_json::from_str(&q.ok(&["inbox", "--json"])).unwrap();
    assert_eq!(json[0]["kind"], "critique");
    assert_eq!(json[0]["unread"], true);

    q.ok(&["show", &id.to_string()[..6]]);
    let json: serde_json::Value = serde_json::from_str(&q.ok(&["inbox", "--json"])).unwrap();
    assert_eq!(json[0]["unread"], false, "shown, so read: {json}");
    assert!(q.ok(&["inbox"]).starts_with("  "));
}

#[test]
fn a_ticket_travels_as_a_picture_of_its_qr_code() {
    let q = Quire::founded();
    let picture = q.data().join("ticket.png");
    let ticket = q.ok(&["invite", "--qr", picture.to_str().unwrap()]);
    assert_eq!(
        quire::backend::qr_picture::ticket_from_picture(&picture),
        Ok(ticket.trim().to_string())
    );
    // A picture of some other code is named for what it is, before anything is dialed.
    let other = q.data().join("other.png");
    quire::backend::qr_picture::write_picture("https://example.org", &other).unwrap();
    let joiner = Quire::new();
    let err = joiner.fails(&["join", "--qr", other.to_str().unwrap()]);
    assert!(err.ends_with("holds no Quire invite ticket"), "{err}");
}
