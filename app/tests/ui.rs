//! The desktop client driven by its accessibility labels, as a screen reader would: egui_kittest
//! runs the real app (and its real backend thread on a temp data dir) without a window.
//!
//! A second member acts from "another process": the test opens the same group on disk as a
//! second device, which is how the app sees changes from other processes. At the end, two apps
//! on two loopback sync nodes in this process invite, join and see each other's changes.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use quire::ui::{QuireApp, UiState};
use quire_store::ops::{self, NewMember, SubmissionDraft};
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{CritiqueId, DeviceId, Group, GroupId, MemberId, SubmissionId};

fn harness(dir: &Path) -> Harness<'static, QuireApp> {
    sized(dir, [1280.0, 860.0])
}

/// The app on `dir`, without sync, in a window of `size` points.
fn sized(dir: &Path, size: [f32; 2]) -> Harness<'static, QuireApp> {
    let app = QuireApp::new(dir.to_path_buf(), UiState::default(), Arc::new(|| {}));
    harness_of(app, size)
}

/// `app` in a window of `size` points, driven as eframe drives it.
fn harness_of(app: QuireApp, size: [f32; 2]) -> Harness<'static, QuireApp> {
    Harness::builder()
        .with_size(size)
        .build_ui_state(|ui, app: &mut QuireApp| app.ui(ui), app)
}

/// Steps the app until `done` holds; the backend answers on its own thread.
fn wait_for(
    h: &mut Harness<'_, QuireApp>,
    what: &str,
    done: impl Fn(&Harness<'_, QuireApp>) -> bool,
) {
    let started = Instant::now();
    loop {
        h.step();
        if done(h) {
            h.step();
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}; status line: {:?}; activity: {:?}",
            h.state().notice(),
            h.state().current().map(|s| s
                .activity
                .iter()
                .take(5)
                .map(|a| a.what.clone())
                .collect::<Vec<_>>())
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn has(h: &Harness<'_, QuireApp>, label: &str) -> bool {
    h.query_by_label(label).is_some()
}

fn type_into(h: &mut Harness<'_, QuireApp>, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.step();
    h.get_by_label(label).focus();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label(label).type_text(text);
    h.step();
    h.step();
}

fn click(h: &mut Harness<'_, QuireApp>, label: &str) {
    h.get_by_label(label).click_accesskit();
    h.step();
}

/// Opens the submit page and fills in a piece; Submit is left to the caller.
fn fill_submit_form(h: &mut Harness<'_, QuireApp>, title: &str, genre: &str, text: &str) {
    click(h, "Submit");
    wait_for(h, "the submit form", |h| has(h, "Submit piece"));
    type_into(h, "Title", title);
    type_into(h, "Genre", genre);
    type_into(h, "Text", text);
}

/// Creates "Tuesday Writers" through the first-run page.
fn create_group(h: &mut Harness<'_, QuireApp>) {
    wait_for(h, "the first-run page", |h| has(h, "Create group"));
    type_into(h, "Group name", "Tuesday Writers");
    type_into(h, "Your name", "Julia Amante");
    click(h, "Create group");
    wait_for(h, "the new group's queue", |h| {
        h.state()
            .current()
            .is_some_and(|s| s.name == "Tuesday Writers")
            && has(h, "Queue")
    });
}

/// A second member, Ben, on a device of his own, acting on the same data dir.
struct Ben {
    group: Group,
    id: MemberId,
}

impl Ben {
    fn join(dir: &Path, group: GroupId) -> Ben {
        Ben::join_as(dir, group, 42, "Ben Okafor")
    }

    /// Another member like Ben, on device `[device; 32]`.
    fn join_as(dir: &Path, group: GroupId, device: u8, name: &str) -> Ben {
        let data = DataDir::open(dir).unwrap();
        let device = DeviceId::from_bytes([device; 32]);
        let mut g = Group::open(&data, group, device, StorageOptions::default()).unwrap();
        let id = MemberId::random();
        let now = jiff::Timestamp::now();
        let new = NewMember {
            id,
            display_name: name.into(),
            device,
            device_label: "phone".into(),
        };
        ops::add_member(g.storage_mut().doc_mut(), new, now).unwrap();
        g.persist().unwrap();
        Ben { group: g, id }
    }

    fn submit(&mut self, title: &str) -> SubmissionId {
        self.submit_text(title, "The ship came down in the salt flats. ".repeat(40))
    }

    fn submit_text(&mut self, title: &str, text: String) -> SubmissionId {
        self.submit_in(title, "fantasy", text)
    }

    fn submit_in(&mut self, title: &str, genre: &str, text: String) -> SubmissionId {
        let draft = SubmissionDraft {
            title: title.into(),
            genre: genre.into(),
            text,
            ..Default::default()
        };
        let id = SubmissionId::random();
        self.group
            .submit(id, draft, jiff::Timestamp::now())
            .unwrap();
        id
    }

    fn claim_and_critique(&mut self, sub: SubmissionId) {
        let now = jiff::Timestamp::now();
        self.group
            .act(|doc, me| ops::claim(doc, me, sub, now))
            .unwrap();
        let body = "The opening is strong and the mill is vivid. ".repeat(40);
        self.group
            .act(|doc, me| ops::critique(doc, me, sub, CritiqueId::random(), &body, now))
            .unwrap();
    }
}

#[test]
fn create_a_group_edit_profile_submit_claim_critique_and_rate() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    create_group(&mut h);
    let group = h.state().current().unwrap().id;

    // Edit the profile.
    click(&mut h, "Profile");
    wait_for(&mut h, "the profile form", |h| has(h, "Save profile"));
    type_into(&mut h, "Pen name", "J. Amante");
    type_into(&mut h, "Genres", "historical fiction, ya");
    click(&mut h, "beta-reader");
    click(&mut h, "Save profile");
    wait_for(&mut h, "the profile to be saved", |h| {
        h.state()
            .current()
            .and_then(|s| s.my_member.clone())
            .is_some_and(|m| {
                m.profile.pen_name.as_deref() == Some("J. Amante")
                    && m.profile.genres.contains("ya")
                    && m.profile
                        .roles
                        .contains(&quire_store::model::Role::BetaReader)
            })
    });

    // Submit a piece.
    fill_submit_form(
        &mut h,
        "The Mill",
        "historical fiction",
        "The mill wheel turned all night and nobody in the village slept.",
    );
    click(&mut h, "Submit piece");
    wait_for(&mut h, "the new piece's page", |h| {
        h.state()
            .current()
            .is_some_and(|s| s.queue.iter().any(|r| r.entry.title == "The Mill"))
            && has(h, "Withdraw The Mill")
    });

    // Withdrawing asks first; Cancel keeps the piece in the queue.
    click(&mut h, "Withdraw The Mill");
    wait_for(&mut h, "the question", |h| has(h, "Withdraw “The Mill”?"));
    click(&mut h, "Cancel");
    wait_for(&mut h, "the question gone", |h| {
        !has(h, "Withdraw “The Mill”?")
    });
    assert!(h.state().current().is_some_and(|s| {
        s.queue.iter().any(|r| {
            r.entry.title == "The Mill" && r.entry.status != quire_store::views::Status::Withdrawn
        })
    }));

    // Her credits went on it: the form says so before she fills it in, and will not submit.
    let s = h.state().current().unwrap();
    let balance = s.ledger.as_ref().unwrap().balance;
    assert!(balance < s.next_submission_cost, "{balance} credits left");
    fill_submit_form(
        &mut h,
        "The Weir",
        "historical fiction",
        "The weir held until the spring floods came.",
    );
    assert!(
        h.get_by_label("Submit piece")
            .accesskit_node()
            .is_disabled()
    );

    // Another member submits from another process; the app sees it by itself.
    let mut ben = Ben::join(dir.path(), group);
    let salt = ben.submit("Salt and Iron");
    click(&mut h, "Queue");
    wait_for(&mut h, "Ben's piece in the queue", |h| {
        has(h, "Claim Salt and Iron")
    });

    // Claim it, write a critique, deliver it.
    click(&mut h, "Claim Salt and Iron");
    wait_for(&mut h, "the claim", |h| has(h, "Unclaim Salt and Iron"));
    click(&mut h, "Salt and Iron");
    wait_for(&mut h, "the critique editor", |h| {
        has(h, "Your critique of Salt and Iron")
    });
    type_into(
        &mut h,
        "Your critique of Salt and Iron",
        &"The salt flats are vivid; the pilot needs a clearer want. ".repeat(20),
    );
    wait_for(&mut h, "the live word count", |h| has(h, "220 words"));
    // Delivering asks first; Cancel delivers nothing.
    click(&mut h, "Deliver critique");
    wait_for(&mut h, "the question", |h| {
        has(h, "Deliver your critique of “Salt and Iron”?")
    });
    click(&mut h, "Cancel");
    wait_for(&mut h, "the question gone", |h| {
        !has(h, "Deliver your critique of “Salt and Iron”?")
    });
    assert!(h.state().current().is_some_and(|s| {
        s.queue
            .iter()
            .any(|r| r.entry.id == salt && !r.critiqued_by_me)
    }));
    click(&mut h, "Deliver critique");
    wait_for(&mut h, "the question", |h| has(h, "Deliver"));
    click(&mut h, "Deliver");
    wait_for(&mut h, "the critique to be delivered", |h| {
        h.state().current().is_some_and(|s| {
            s.queue
                .iter()
                .any(|r| r.entry.id == salt && r.critiqued_by_me)
        })
    });

    // Ben critiques The Mill; Julia rates and thanks him.
    let mill = h
        .state()
        .current()
        .and_then(|s| {
            s.queue
                .iter()
                .find(|r| r.entry.title == "The Mill")
                .map(|r| r.entry.id)
        })
        .unwrap();
    ben.claim_and_critique(mill);
    click(&mut h, "Queue");
    h.step();
    click(&mut h, "The Mill");
    wait_for(&mut h, "Ben's critique on The Mill", |h| {
        has(h, "Rate Ben Okafor 4 of 5")
    });
    click(&mut h, "Rate Ben Okafor 4 of 5");
    wait_for(&mut h, "the rating", |h| {
        h.state().notice().is_some_and(|n| n.contains("rated"))
    });
    click(&mut h, "Thank Ben Okafor");
    let ben_id = ben.id;
    wait_for(&mut h, "the rating and thanks", |h| {
        h.state().current().is_some_and(|s| {
            s.activity.iter().any(|a| a.what.contains("rated"))
                && s.activity.iter().any(|a| a.what.contains("thanked"))
        })
    });
    let data = DataDir::open(dir.path()).unwrap();
    let model = Group::open(
        &data,
        group,
        DeviceId::from_bytes([7; 32]),
        StorageOptions::default(),
    )
    .unwrap()
    .read()
    .unwrap();
    let critique = model.submissions[&mill].critique_by(ben_id).unwrap();
    assert_eq!(critique.rating, Some(4));
    assert!(critique.thanked_at.is_some());
    assert!(
        h.state().error().is_none(),
        "no error shown: {:?}",
        h.state().error()
    );
}

#[test]
fn keyboard_shortcuts_open_the_main_views() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    create_group(&mut h);
    for (key, view) in [
        (egui::Key::Num3, quire::ui::View::Roster),
        (egui::Key::Num4, quire::ui::View::Submit),
        (egui::Key::Num2, quire::ui::View::Next),
        (egui::Key::Num1, quire::ui::View::Queue),
    ] {
        h.key_press_modifiers(egui::Modifiers::COMMAND, key);
        h.step();
        assert_eq!(h.state().state.view, view);
    }
    assert!(has(&h, "Search"), "the queue's search field is labelled");
}

#[test]
fn the_queue_search_ignores_accents_and_case() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    create_group(&mut h);
    let group = h.state().current().unwrap().id;
    let mut ben = Ben::join(dir.path(), group);
    ben.submit("Café Noir");
    wait_for(&mut h, "Ben's piece", |h| has(h, "Claim Café Noir"));
    type_into(&mut h, "Search", "noir mill");
    wait_for(&mut h, "nothing found for a word not in it", |h| {
        !has(h, "Claim Café Noir")
    });
    type_into(&mut h, "Search", "CAFE noir");
    wait_for(&mut h, "the piece found without its accent", |h| {
        has(h, "Claim Café Noir")
    });
    type_into(&mut h, "Search", "Ben café");
    wait_for(&mut h, "the piece found by its author and its title", |h| {
        has(h, "Claim Café Noir")
    });
    // An empty result says so, with a way back, instead of bare column headers.
    type_into(&mut h, "Search", "zzz");
    wait_for(&mut h, "the empty result", |h| {
        has(h, "No piece matches this search.")
    });
    click(&mut h, "Clear the search and filters");
    wait_for(&mut h, "the queue again", |h| has(h, "Claim Café Noir"));
    assert!(h.state().state.queue.search.is_empty());
}

#[test]
fn the_genre_filter_takes_several_genres_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    create_group(&mut h);
    let group = h.state().current().unwrap().id;
    let text = || "Words enough to submit. ".repeat(10);
    let members = [
        (42, "Ben Okafor", "Salt and Iron", "fantasy"),
        (43, "Cara Lind", "Small Hours", "poetry"),
        (44, "Dan Wu", "Cold Water", "crime"),
    ];
    for (device, name, title, genre) in members {
        Ben::join_as(dir.path(), group, device, name).submit_in(title, genre, text());
    }
    wait_for(&mut h, "Ben's pieces", |h| has(h, "Claim Cold Water"));
    let shown = |h: &Harness<'_, QuireApp>| {
        ["Salt and Iron", "Small Hours", "Cold Water"]
            .into_iter()
            .filter(|t| has(h, &format!("Claim {t}")))
            .collect::<Vec<_>>()
    };
    click(&mut h, "Genres");
    let tick = |h: &mut Harness<'_, QuireApp>, genre: &str| {
        h.get_by_role_and_label(egui::accesskit::Role::CheckBox, genre)
            .click_accesskit();
        h.step();
    };
    wait_for(&mut h, "the genres", |h| {
        h.query_by_role_and_label(egui::accesskit::Role::CheckBox, "poetry")
            .is_some()
    });
    tick(&mut h, "fantasy");
    tick(&mut h, "poetry");
    wait_for(&mut h, "two genres", |h| {
        shown(h) == ["Salt and Iron", "Small Hours"]
    });
    click(&mut h, "any");
    wait_for(&mut h, "every genre", |h| shown(h).len() == 3);
}

#[test]
fn a_roster_header_sorts_its_column_and_a_second_click_reverses_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    create_group(&mut h);
    let group = h.state().current().unwrap().id;
    let _ben = Ben::join(dir.path(), group);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    wait_for(&mut h, "Ben in the roster", |h| has(h, "Ben Okafor"));
    // Where a name's row is: the lowest node of that name (the top bar shows mine too).
    let row = |h: &Harness<'_, QuireApp>, name: &str| {
        h.query_all_by_label(name)
            .map(|n| n.rect().top())
            .fold(f32::MIN, f32::max)
    };
    let above = |h: &Harness<'_, QuireApp>, a: &str, b: &str| row(h, a) < row(h, b);
    // The roster's own order is by name.
    assert!(above(&h, "Ben Okafor", "Julia Amante"));
    click(&mut h, "Name");
    wait_for(&mut h, "sorted by name, A to Z", |h| {
        h.state().state.roster.sort.is_some() && above(h, "Ben Okafor", "Julia Amante")
    });
    click(&mut h, "Name ⏶");
    wait_for(&mut h, "sorted by name, Z to A", |h| {
        above(h, "Julia Amante", "Ben Okafor")
    });
    click(&mut h, "Name ⏷");
    wait_for(&mut h, "the roster's own order again", |h| {
        h.state().state.roster.sort.is_none() && above(h, "Ben Okafor", "Julia Amante")
    });
}

#[test]
fn another_piece_opens_at_its_top_whatever_the_last_was_scrolled_to() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    create_group(&mut h);
    let group = h.state().current().unwrap().id;
    let chapter = "The ship came down in the salt flats.\n\n".repeat(200);
    Ben::join(dir.path(), group).submit_text("Salt and Iron", chapter);
    fill_submit_form(
        &mut h,
        "The Mill",
        "historical fiction",
        &"The mill wheel turned all night.\n\n".repeat(150),
    );
    click(&mut h, "Submit piece");
    wait_for(&mut h, "her piece's page", |h| has(h, "Withdraw The Mill"));
    click(&mut h, "Queue");
    wait_for(&mut h, "Ben's piece", |h| has(h, "Salt and Iron"));
    click(&mut h, "Salt and Iron");
    wait_for(&mut h, "Ben's piece's page", |h| has(h, "Back"));
    let top = |h: &Harness<'_, QuireApp>| h.get_by_label("Back").rect().top();
    let at_top = top(&h);
    for _ in 0..10 {
        h.get_by_label("Back").scroll_down();
        h.step();
    }
    h.step();
    assert!(top(&h) < at_top - 100.0, "the piece did not scroll");
    click(&mut h, "Back");
    wait_for(&mut h, "the queue", |h| has(h, "The Mill"));
    click(&mut h, "The Mill");
    wait_for(&mut h, "her piece's page", |h| has(h, "Withdraw The Mill"));
    assert!(
        (top(&h) - at_top).abs() < 1.0,
        "opened {} px down",
        at_top - top(&h)
    );
}

#[test]
fn the_rules_form_names_every_bad_value_in_words_and_credits_is_a_box() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    create_group(&mut h);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num7);
    wait_for(&mut h, "the rules page", |h| has(h, "Edit rules"));
    click(&mut h, "Edit rules");
    wait_for(&mut h, "the rules form", |h| has(h, "Save rules"));
    type_into(&mut h, "Critiques a piece wants", "0");
    type_into(&mut h, "Days to write a claimed critique", "a week");
    let wants = "Critiques a piece wants takes a whole number from 1 to 20";
    let days = "Days to write a claimed critique takes a whole number of days from 1 to 365";
    wait_for(&mut h, "both problems at once", |h| {
        has(h, wants) && has(h, days)
    });
    assert!(h.get_by_label("Save rules").accesskit_node().is_disabled());
    type_into(&mut h, "Critiques a piece wants", "2");
    type_into(&mut h, "Days to write a claimed critique", "10");
    wait_for(&mut h, "no problem left", |h| {
        !has(h, wants) && !has(h, days)
    });
    assert!(h.state().current().unwrap().rules.credits);
    // The box is named by its row's label (`labelled_by`), not by its own text.
    click(&mut h, "Credits");
    click(&mut h, "Save rules");
    wait_for(&mut h, "the new rules in force", |h| {
        h.state().current().is_some_and(|s| {
            !s.rules.credits && s.rules.critiques_wanted == 2 && s.rules.claim_period_days == 10
        })
    });
}

#[test]
fn the_profile_form_names_every_problem_at_once_and_saves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    create_group(&mut h);
    click(&mut h, "Profile");
    wait_for(&mut h, "the profile form", |h| has(h, "Save profile"));
    type_into(&mut h, "Display name", " ");
    type_into(&mut h, "Critiques a month", "lots");
    type_into(&mut h, "On hiatus until", "soon");
    type_into(&mut h, "Links (label=url, one a line)", "my site");
    click(&mut h, "Save profile");
    let problems = [
        "Display name cannot be empty",
        "Critiques a month `lots` is not a whole number",
        "On hiatus until: `soon` is not a date like 2026-12-01",
        "Link `my site` is not label=url",
    ];
    wait_for(&mut h, "every problem", |h| {
        problems.iter().all(|p| has(h, p))
    });
    let me = h.state().current().unwrap().my_member.clone().unwrap();
    assert_eq!(me.profile.display_name, "Julia Amante");
    assert_eq!(me.profile.capacity_per_month, None);
}

#[test]
fn a_new_groups_empty_queue_leads_to_submitting() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    create_group(&mut h);
    wait_for(&mut h, "the empty queue's hint", |h| {
        has(h, "Submit a piece")
    });
    click(&mut h, "Submit a piece");
    wait_for(&mut h, "the submit page", |h| {
        h.state().state.view == quire::ui::View::Submit
    });
}

#[test]
fn a_refused_action_shows_one_line_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(dir.path());
    create_group(&mut h);
    // The rules form refuses what the rules cannot take before anything is sent.
    click(&mut h, "Rules");
    click(&mut h, "Edit rules");
    type_into(&mut h, "Critiques a piece wants", "99");
    wait_for(&mut h, "the form's answer", |h| {
        has(
            h,
            "Critiques a piece wants takes a whole number from 1 to 20",
        )
    });
    assert!(h.get_by_label("Save rules").accesskit_node().is_disabled());
    type_into(&mut h, "Critiques a piece wants", "3");
    type_into(&mut h, "Longest piece, in words", "5");
    click(&mut h, "Save rules");
    wait_for(&mut h, "the new limit", |h| {
        h.state()
            .current()
            .is_some_and(|s| s.rules.max_words == Some(5))
    });
    // A piece over the limit is refused by the group's rules: one line, nothing submitted.
    fill_submit_form(
        &mut h,
        "The Mill",
        "historical fiction",
        "The mill wheel turned all night and nobody slept.",
    );
    click(&mut h, "Submit piece");
    wait_for(&mut h, "the error", |h| h.state().error().is_some());
    let error = h.state().error().unwrap().to_string();
    assert!(error.contains("words"), "says what is wrong: {error}");
    assert!(!error.contains('\n'), "one line: {error}");
    assert!(h.state().current().unwrap().queue.is_empty());
}

#[test]
fn a_critique_draft_survives_closing_the_app() {
    let dir = tempfile::tempdir().unwrap();
    let sub;
    {
        let mut h = harness(dir.path());
        create_group(&mut h);
        let group = h.state().current().unwrap().id;
        let mut ben = Ben::join(dir.path(), group);
        sub = ben.submit("Night Shift");
        wait_for(&mut h, "Ben's piece", |h| has(h, "Claim Night Shift"));
        click(&mut h, "Claim Night Shift");
        wait_for(&mut h, "the claim", |h| has(h, "Unclaim Night Shift"));
        click(&mut h, "Night Shift");
        wait_for(&mut h, "the editor", |h| {
            has(h, "Your critique of Night Shift")
        });
        type_into(
            &mut h,
            "Your critique of Night Shift",
            "The corridor scene is the scariest part.",
        );
        // Quiet for longer than the draft delay, then the draft is written.
        let path = dir
            .path()
            .join("drafts")
            .join(group.to_string())
            .join(format!("{sub}.txt"));
        let started = Instant::now();
        while !path.exists() && started.elapsed() < Duration::from_secs(20) {
            std::thread::sleep(Duration::from_millis(100));
            h.step();
        }
        assert!(path.exists(), "draft written to {}", path.display());
    }
    // A new app on the same data dir finds the draft in the editor.
    let mut h = harness(dir.path());
    wait_for(&mut h, "the group", |h| h.state().current().is_some());
    h.state_mut().state.view = quire::ui::View::Submission(sub.to_string());
    wait_for(&mut h, "the restored draft", |h| {
        h.query_all_by_value("The corridor scene is the scariest part.")
            .next()
            .is_some()
    });
}

// Two devices, each with the app on its own loopback sync node in this process: what one does
// reaches the other's screen by itself.

/// The app on a device of its own, syncing over loopback only (no relay, no mDNS), and the
/// flag its backend raises when it asks for a repaint.
fn synced_harness(dir: &Path, device_label: &str) -> (Harness<'static, QuireApp>, Arc<AtomicBool>) {
    let config = quire::backend::BackendConfig {
        data_dir: dir.to_path_buf(),
        device_label: device_label.into(),
        sync: Some(quire_sync::NodeConfig::loopback(dir)),
        notifier: None,
    };
    let woken = Arc::new(AtomicBool::new(false));
    let wake = woken.clone();
    let repaint = Arc::new(move || wake.store(true, Ordering::SeqCst));
    let app = QuireApp::with_backend(config, UiState::default(), repaint);
    (harness_of(app, [1280.0, 860.0]), woken)
}

/// Like [`wait_for`], but draws a frame only when the backend asks for one, as eframe does
/// when the window is idle: what comes in shows up by itself.
fn wait_painted(
    h: &mut Harness<'_, QuireApp>,
    woken: &AtomicBool,
    what: &str,
    done: impl Fn(&Harness<'_, QuireApp>) -> bool,
) {
    let started = Instant::now();
    while !done(h) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}; status line: {:?}",
            h.state().notice(),
        );
        if woken.swap(false, Ordering::SeqCst) {
            h.step();
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Julia founds "Tuesday Writers" on her device and makes a ticket of `kind` through the
/// invite dialog (top bar, Invite); returns the ticket as the dialog shows it.
fn found_and_invite(h: &mut Harness<'_, QuireApp>, kind: &str) -> String {
    create_group(h);
    wait_for(h, "sync to run", |h| h.state().sync_status().is_online());
    click(h, "Invite");
    // The menu's first frame is an invisible sizing pass.
    wait_for(h, "the Invite menu", |h| has(h, kind));
    click(h, kind);
    let make = if kind.starts_with("Link") {
        "Make device ticket"
    } else {
        "Make invite ticket"
    };
    wait_for(h, "the invite form", |h| has(h, make));
    click(h, make);
    wait_for(h, "the ticket", |h| has(h, "Ticket to send"));
    assert!(
        has(h, "QR code of the ticket"),
        "the ticket shows as a QR code"
    );
    assert!(!has(h, "Copied to the clipboard"));
    click(h, "Copy ticket");
    wait_for(h, "Copy's answer", |h| has(h, "Copied to the clipboard"));
    let ticket = h.get_by_label("Ticket to send").value().unwrap_or_default();
    assert!(ticket.starts_with("quire1"), "a ticket: {ticket}");
    ticket
}

#[test]
fn a_claim_made_in_one_app_appears_in_the_other() {
    let (julia_dir, ben_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut julia, _) = synced_harness(julia_dir.path(), "Julia's laptop");
    let (mut ben, ben_woken) = synced_harness(ben_dir.path(), "Ben's laptop");
    let ticket = found_and_invite(&mut julia, "Invite someone…");
    assert!(has(&julia, "One person can join with it."));

    // Ben pastes the ticket; a member ticket asks his name.
    wait_for(&mut ben, "the first-run page", |h| has(h, "Invite ticket"));
    assert!(!has(&ben, "Name to join as"), "no name before a ticket");
    type_into(&mut ben, "Invite ticket", &ticket);
    wait_for(&mut ben, "the name field", |h| has(h, "Name to join as"));
    type_into(&mut ben, "Name to join as", "Ben Okafor");
    click(&mut ben, "Join group");
    wait_for(&mut ben, "the joined group", |h| {
        h.state()
            .current()
            .is_some_and(|s| s.name == "Tuesday Writers" && s.my_name == "Ben Okafor")
    });
    // A new member lands on For you, which asks for their genres.
    wait_for(&mut ben, "the genre nudge", |h| has(h, "Add your genres"));
    // Julia's invite dialog sees its ticket used.
    wait_for(&mut julia, "the ticket used", |h| {
        has(h, "✔ Ben Okafor (Ben's laptop) joined with it")
    });

    // Ben submits a piece; it reaches Julia's queue.
    fill_submit_form(
        &mut ben,
        "Salt and Iron",
        "fantasy",
        &"The ship came down in the salt flats. ".repeat(40),
    );
    click(&mut ben, "Submit piece");
    wait_for(&mut ben, "the piece submitted", |h| {
        has(h, "Withdraw Salt and Iron")
    });
    click(&mut ben, "Queue");
    wait_for(&mut julia, "Ben's piece on Julia's screen", |h| {
        has(h, "Claim Salt and Iron")
    });

    // Julia claims it; Ben's screen shows the claim by itself: his app draws a frame only
    // when its backend wakes it.
    wait_for(&mut ben, "Ben's queue", |h| has(h, "Salt and Iron"));
    click(&mut julia, "Claim Salt and Iron");
    wait_for(&mut julia, "the claim", |h| has(h, "Unclaim Salt and Iron"));
    wait_painted(&mut ben, &ben_woken, "Julia's claim on Ben's screen", |h| {
        has(h, "1 claimed, 2 open (yours)")
            && h.state().current().is_some_and(|s| {
                s.queue.iter().any(|r| {
                    r.entry.title == "Salt and Iron"
                        && r.status_text == "1 claimed, 2 open"
                        && r.critiques_text == "0/3"
                })
            })
    });

    // Both status bars and Ben's peers panel say they are connected and in sync.
    wait_for(&mut ben, "Julia's device in the peers panel", |h| {
        h.state().sync_status().peers.iter().any(|p| {
            p.member == "Julia Amante"
                && p.device == "Julia's laptop"
                && p.connected
                && p.sync == quire::backend::PeerSync::InSync
        })
    });
    ben.get_by_label_contains("1 peer connected")
        .click_accesskit();
    ben.step();
    wait_for(&mut ben, "the peers panel", |h| has(h, "Julia's laptop"));
    assert!(has(&ben, "connected"));
    assert!(has(&ben, "in sync"));
    assert!(
        ben.state()
            .sync_status()
            .summary(jiff::Timestamp::now())
            .contains("1 peer connected, in sync"),
        "{}",
        ben.state().sync_status().summary(jiff::Timestamp::now())
    );
    for h in [&julia, &ben] {
        assert!(h.state().error().is_none(), "{:?}", h.state().error());
    }
}

#[test]
fn a_device_ticket_links_another_device_without_asking_a_name() {
    let (laptop_dir, tablet_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut laptop, _) = synced_harness(laptop_dir.path(), "Julia's laptop");
    let (mut tablet, _) = synced_harness(tablet_dir.path(), "Julia's tablet");
    let ticket = found_and_invite(&mut laptop, "Link another device of mine…");
    assert!(has(&laptop, "One device can be linked with it."));

    wait_for(&mut tablet, "the first-run page", |h| {
        has(h, "Invite ticket")
    });
    type_into(&mut tablet, "Invite ticket", &ticket);
    wait_for(&mut tablet, "the device ticket read", |h| {
        has(h, "Link this device")
    });
    assert!(
        !has(&tablet, "Name to join as"),
        "a device ticket asks no name"
    );
    click(&mut tablet, "Link this device");
    wait_for(&mut tablet, "the group on the second device", |h| {
        h.state()
            .current()
            .is_some_and(|s| s.name == "Tuesday Writers" && s.my_name == "Julia Amante")
    });
    assert_eq!(
        tablet.state().current().unwrap().members.len(),
        1,
        "no new member"
    );

    // My personal document follows me: notifications turned off on the tablet are off on the
    // laptop too. (A device that just joined opens on For you.)
    wait_for(&mut tablet, "the setting", |h| {
        has(h, "Desktop notifications")
    });
    click(&mut tablet, "Desktop notifications");
    wait_for(&mut tablet, "notifications off on the tablet", |h| {
        h.state().current().is_some_and(|s| !s.notifications)
    });
    wait_for(&mut laptop, "notifications off on the laptop", |h| {
        h.state().current().is_some_and(|s| !s.notifications)
    });
}

/// The app on `dir` without sync, with notifications going to `recorder`.
fn harness_noticed(
    dir: &Path,
    recorder: &quire::backend::notify::Recorder,
) -> Harness<'static, QuireApp> {
    let config = quire::backend::BackendConfig {
        data_dir: dir.to_path_buf(),
        device_label: "laptop".into(),
        sync: None,
        notifier: Some(Arc::new(recorder.clone())),
    };
    let app = QuireApp::with_backend(config, UiState::default(), Arc::new(|| {}));
    harness_of(app, [1280.0, 860.0])
}

#[test]
fn a_new_critique_is_announced_waits_in_for_you_and_opening_it_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = quire::backend::notify::Recorder::default();
    let mut h = harness_noticed(dir.path(), &recorder);
    create_group(&mut h);
    let group = h.state().current().unwrap().id;
    click(&mut h, "For you");
    wait_for(&mut h, "an empty For you", |h| {
        has(h, "Nothing needs you right now.")
    });

    fill_submit_form(
        &mut h,
        "The Mill",
        "historical fiction",
        "The mill wheel turned all night and nobody in the village slept.",
    );
    click(&mut h, "Submit piece");
    wait_for(&mut h, "the new piece's page", |h| {
        has(h, "Withdraw The Mill")
    });
    let mill = h
        .state()
        .current()
        .unwrap()
        .queue
        .iter()
        .find(|r| r.entry.title == "The Mill")
        .unwrap()
        .entry
        .id;
    click(&mut h, "Queue");

    // Ben critiques it from another process: a notification, and an unread item.
    let mut ben = Ben::join(dir.path(), group);
    ben.claim_and_critique(mill);
    wait_for(&mut h, "the critique in For you", |h| has(h, "For you (1)"));
    let notices = recorder.notices();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].summary, "Ben Okafor critiqued “The Mill”");
    assert_eq!(notices[0].body, "Tuesday Writers");
    assert_eq!(notices[0].submission, mill);
    click(&mut h, "For you (1)");
    wait_for(&mut h, "the item", |h| {
        has(h, "Ben Okafor critiqued “The Mill”")
    });
    assert!(has(&h, "unread"));

    // Clicking the notification opens the piece, which reads the critique.
    assert!(recorder.click(0));
    wait_for(&mut h, "the piece opened", |h| has(h, "Withdraw The Mill"));
    wait_for(&mut h, "the critique read", |h| {
        has(h, "For you") && !has(h, "For you (1)")
    });
    let data = DataDir::open(dir.path()).unwrap();
    let me = h.state().current().unwrap().me.unwrap();
    let personal = quire_store::personal::PersonalDoc::open(
        &data,
        group,
        me,
        DeviceId::from_bytes([7; 32]),
        StorageOptions::default(),
    )
    .unwrap()
    .read();
    assert_eq!(personal.read.len(), 1, "{personal:?}");
    assert!(personal.read.keys().all(|k| k.starts_with("critique/")));

    // Notifications off: the setting is kept in the personal document.
    click(&mut h, "For you");
    wait_for(&mut h, "the setting", |h| has(h, "Desktop notifications"));
    click(&mut h, "Desktop notifications");
    wait_for(&mut h, "notifications off", |h| {
        h.state().current().is_some_and(|s| !s.notifications)
    });
    assert_eq!(recorder.notices().len(), 1, "nothing more announced");
}

#[test]
fn at_the_smallest_window_nothing_overlaps_and_every_column_is_on_screen() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = sized(dir.path(), [720.0, 480.0]);
    create_group(&mut h);
    let group = h.state().current().unwrap().id;
    let mut ben = Ben::join(dir.path(), group);
    ben.submit("Salt and Iron");
    wait_for(&mut h, "Ben's piece in the queue", |h| {
        has(h, "Claim Salt and Iron")
    });
    let me = h.get_by_label("Julia Amante").rect();
    for tab in ["For you", "Queue", "Activity", "Rules", "Profile"] {
        let rect = h.get_by_label(tab).rect();
        assert!(!rect.intersects(me), "{tab} {rect:?} under the name {me:?}");
        assert!(rect.max.x <= 720.0, "{tab} off screen: {rect:?}");
    }
    for header in ["Title", "Critiques", "Status"] {
        let rect = h.get_by_label(header).rect();
        assert!(rect.max.x <= 720.0, "column {header} cut off: {rect:?}");
    }
    assert!(h.get_by_label("Claim Salt and Iron").rect().max.x <= 720.0);

    // The roster of a 1280-wide window zoomed to 150 %: every column still on screen.
    drop(h);
    let mut h = sized(dir.path(), [1280.0, 800.0]);
    h.ctx.set_zoom_factor(1.5);
    wait_for(&mut h, "the group", |h| has(h, "Roster"));
    click(&mut h, "Roster");
    wait_for(&mut h, "the roster", |h| has(h, "Ben Okafor"));
    let right = h.ctx.content_rect().max.x;
    assert!(right < 900.0, "zoomed: {right} points wide");
    for header in ["Name", "Received", "Status"] {
        let rect = h.get_by_label(header).rect();
        assert!(rect.max.x <= right, "column {header} cut off: {rect:?}");
    }
}
