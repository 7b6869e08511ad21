//! Frame time of the desktop client on a large group: 1,000 members and 100,000 submissions
//! with 100,000 critiques. Builds the group as the model, derives the snapshot the backend
//! would send (timed once), then drives the real app in a headless `egui::Context` through a
//! scripted scroll of the queue, the roster, the ledger and For you, timing each frame (the app's `ui` plus
//! tessellation; no GPU). Prints median and p99 ms per frame; the target is p99 ≤ 16 ms.
//!
//! `cargo bench -p quire --bench ui_frames` (add `-- --quick` for 1/10 the size).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Event, MouseWheelSource, MouseWheelUnit, Pos2, RawInput, Rect, TouchPhase, Vec2};
use jiff::{SignedDuration, Timestamp};
use quire::backend::derive_snapshot;
use quire::ui::{QuireApp, UiState, View};
use quire_store::model::{
    Claim, Critique, Group, GroupInfo, Member, Profile, Role, Rules, Submission,
};
use quire_store::{CritiqueId, DeviceId, GroupId, MemberId, SubmissionId};

const GENRES: [&str; 8] = [
    "fantasy",
    "ya",
    "crime",
    "romance",
    "poetry",
    "horror",
    "memoir",
    "science fiction",
];

fn id16(kind: u8, i: usize) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = kind;
    b[8..].copy_from_slice(&(i as u64).to_be_bytes());
    b
}

fn big_group(members: usize, submissions: usize, now: Timestamp) -> Group {
    let start = now - SignedDuration::from_hours(24 * 60);
    let member_ids: Vec<MemberId> = (0..members)
        .map(|i| MemberId::from_bytes(id16(1, i)))
        .collect();
    let mut roster = BTreeMap::new();
    for (i, id) in member_ids.iter().enumerate() {
        let mut device = [0u8; 32];
        device[..16].copy_from_slice(&id16(2, i));
        let profile = Profile {
            display_name: format!("Member {i:04}"),
            pen_name: (i % 3 == 0).then(|| format!("M. Pen {i}")),
            genres: [GENRES[i % 8].to_string(), GENRES[(i / 8) % 8].to_string()].into(),
            roles: [Role::KNOWN[i % 5].clone()].into(),
            capacity_per_month: Some((i % 6) as u32 + 1),
            ..Default::default()
        };
        roster.insert(
            *id,
            Member {
                id: *id,
                profile,
                organizer: i == 0,
                joined_at: start,
                removed_at: None,
                devices: [(
                    DeviceId::from_bytes(device),
                    quire_store::model::Device {
                        label: "laptop".into(),
                        added_at: start,
                    },
                )]
                .into(),
            },
        );
    }
    let mut subs = BTreeMap::new();
    for i in 0..submissions {
        let id = SubmissionId::from_bytes(id16(3, i));
        let author = member_ids[i % members];
        let reviewer = member_ids[(i + 1 + i / members) % members];
        let at = start + SignedDuration::from_secs(i as i64 * 40);
        let critique = CritiqueId::from_bytes(id16(4, i));
        let claim_at = at + SignedDuration::from_hours(1);
        subs.insert(
            id,
            Submission {
                id,
                author,
                title: format!("Piece number {i}"),
                genre: GENRES[i % 8].into(),
                word_count: 1000 + (i % 4000) as u32,
                text: String::new(),
                feedback_wanted: String::new(),
                content_notes: String::new(),
                submitted_at: at,
                due_at: None,
                critiques_wanted: 3,
                withdrawn_at: None,
                claims: [(
                    reviewer,
                    Claim {
                        at: claim_at,
                        expires_at: claim_at + SignedDuration::from_hours(24 * 7),
                        released_at: None,
                    },
                )]
                .into(),
                critiques: [(
                    critique,
                    Critique {
                        id: critique,
                        reviewer,
                        body: String::new(),
                        word_count: 400,
                        delivered_at: claim_at + SignedDuration::from_hours(5),
                        rating: Some(4),
                        thanked_at: None,
                        tipped_at: None,
                    },
                )]
                .into(),
            },
        );
    }
    Group {
        info: GroupInfo {
            id: GroupId::from_bytes([9; 16]),
            name: "Big Group".into(),
            description: String::new(),
            created_at: start,
            created_by: member_ids[0],
            rules: Rules::default(),
            rule_changes: Vec::new(),
        },
        members: roster,
        submissions: subs,
        skipped: Vec::new(),
    }
}

struct Driver {
    ctx: egui::Context,
    time: f64,
}

impl Driver {
    fn frame(&mut self, app: &mut QuireApp, events: Vec<Event>) -> Duration {
        self.time += 1.0 / 60.0;
        let input = RawInput {
            screen_rect: Some(Rect::from_min_size(Pos2::ZERO, Vec2::new(1280.0, 800.0))),
            time: Some(self.time),
            events,
            ..Default::default()
        };
        let started = Instant::now();
        let mut output = self.ctx.run_ui(input, |ui| app.ui(ui));
        let shapes = std::mem::take(&mut output.shapes);
        let prims = self.ctx.tessellate(shapes, output.pixels_per_point);
        std::hint::black_box(prims);
        let took = started.elapsed();
        // No GPU takes the textures (egui 0.37 asserts that someone did).
        output.drop_without_applying_deltas();
        took
    }
}

fn scroll(delta: f32) -> Vec<Event> {
    vec![
        Event::PointerMoved(Pos2::new(640.0, 450.0)),
        Event::MouseWheel {
            unit: MouseWheelUnit::Point,
            delta: Vec2::new(0.0, delta),
            phase: TouchPhase::Move,
            source: MouseWheelSource::Wheel,
            modifiers: Default::default(),
        },
    ]
}

fn summary(name: &str, size: &str, samples: &[Duration]) {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "| {name} | {size} | {} | {:.2} | {:.2} | {:.2} |",
        ms.len(),
        at(0.5),
        at(0.99),
        ms[ms.len() - 1]
    );
}

fn main() -> anyhow::Result<()> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (members, submissions) = if quick {
        (100, 10_000)
    } else {
        (1_000, 100_000)
    };
    let now = Timestamp::now();
    let size = format!("{members} members, {submissions} pieces, {submissions} critiques");
    println!("ui_frames: {size}");
    let group = big_group(members, submissions, now);
    let me = *group.members.keys().next().expect("members");
    let started = Instant::now();
    let mut snapshot = derive_snapshot(&group, Some(me), &[], now, 1);
    println!(
        "derive snapshot (backend thread, once per change): {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let started = Instant::now();
    let personal = quire_store::personal::Personal::default();
    snapshot.inbox = Arc::new(quire_store::inbox::inbox(&group, me, &personal, now));
    println!(
        "derive the inbox (backend thread, once per change): {:.1} ms, {} items",
        started.elapsed().as_secs_f64() * 1000.0,
        snapshot.inbox.len()
    );
    let snapshot = Arc::new(snapshot);

    let dir = tempfile::tempdir()?;
    let mut app = QuireApp::new(
        dir.path().to_path_buf(),
        UiState::default(),
        Arc::new(|| {}),
    );
    let mut driver = Driver {
        ctx: egui::Context::default(),
        time: 0.0,
    };
    let wait = Instant::now();
    while !app.is_loaded() && wait.elapsed() < Duration::from_secs(10) {
        driver.frame(&mut app, Vec::new());
        std::thread::sleep(Duration::from_millis(5));
    }
    app.show_snapshot(snapshot);

    println!("| scripted frames | workload | frames | median ms | p99 ms | max ms |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (view, name, frames) in [
        (View::Queue, "queue: scroll 200 pt a frame", 600),
        (View::Roster, "roster: scroll 200 pt a frame", 300),
        (View::Ledger, "ledger: scroll", 200),
        (View::ForYou, "for you: scroll", 200),
    ] {
        app.state.view = view;
        // Warm up: the first frame of a view builds its filtered order and lays out fonts.
        let first = driver.frame(&mut app, Vec::new());
        for _ in 0..5 {
            driver.frame(&mut app, Vec::new());
        }
        let mut samples = Vec::new();
        for i in 0..frames {
            // Every 100th frame jumps far, as dragging the scroll bar does.
            let delta = if i % 100 == 99 { -400_000.0 } else { -200.0 };
            samples.push(driver.frame(&mut app, scroll(delta)));
        }
        summary(name, &size, &samples);
        println!(
            "|   first frame of the view | | 1 | {:.2} | | |",
            first.as_secs_f64() * 1000.0
        );
    }
    // Typing in the search box refilters the queue in that frame.
    app.state.view = View::Queue;
    let mut samples = Vec::new();
    for i in 0..30 {
        app.state.queue.search = format!("piece {}", i * 37);
        samples.push(driver.frame(&mut app, Vec::new()));
    }
    summary("queue: a search keystroke (refilter)", &size, &samples);
    Ok(())
}
