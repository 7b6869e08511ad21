use automerge::Automerge;
use quire_store::OpError;
use quire_store::doc::{self, ProfilePatch};
use quire_store::exchange::Credits;
use quire_store::exchange::activity::activity;
use quire_store::exchange::ledger::{ledger, ledgers};
use quire_store::exchange::reliability::{interactions, reliability};
use quire_store::exchange::suggest::suggestions;
use quire_store::ids::{CritiqueId, RuleChangeId, SubmissionId};
use quire_store::ops;
use quire_store::views::{self, LinePosition};

use crate::support::*;

fn sid(n: u8) -> SubmissionId {
    SubmissionId::from_bytes([n; 16])
}

fn cid(n: u8) -> CritiqueId {
    CritiqueId::from_bytes([n; 16])
}

fn rid(n: u8) -> RuleChangeId {
    RuleChangeId::from_bytes([n; 16])
}

fn words(n: usize) -> String {
    "word ".repeat(n)
}

fn set(doc: &mut Automerge, id: u8, kv: &[(&str, &str)], hours: i64) {
    let values: Vec<(String, String)> = kv
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ops::change_rules(doc, member(0), rid(id), &values, after(hours)).unwrap();
}

/// `reviewer` claims and critiques `sub` with a critique of `n` words.
fn critique(doc: &mut Automerge, reviewer: usize, sub: u8, id: u8, n: usize, hours: i64) {
    ops::claim(doc, member(reviewer), sid(sub), after(hours)).unwrap();
    ops::critique(
        doc,
        member(reviewer),
        sid(sub),
        cid(id),
        &words(n),
        after(hours),
    )
    .unwrap();
}

fn balance(doc: &Automerge, who: usize) -> String {
    ledger(&doc::read_group(doc).unwrap(), member(who))
        .balance
        .to_string()
}

#[test]
fn a_new_member_starts_with_three_and_a_submission_costs_three() {
    let mut doc = group_with(2);
    assert_eq!(balance(&doc, 1), "3");
    ops::submit(&mut doc, member(1), sid(1), draft("Chapter 2"), after(1)).unwrap();
    let l = ledger(&doc::read_group(&doc).unwrap(), member(1));
    let lines: Vec<String> = l.entries.iter().map(|e| e.text()).collect();
    assert_eq!(
        lines,
        ["+3 joined the group", "\u{2212}3 submitted 'Chapter 2'"]
    );
    assert_eq!(l.balance, Credits::ZERO);
}

#[test]
fn submit_refuses_with_the_numbers_when_credits_are_short() {
    let mut doc = group_with(3);
    ops::submit(&mut doc, member(0), sid(1), draft("The Mill"), after(1)).unwrap();
    critique(&mut doc, 1, 1, 1, 200, 2);
    ops::submit(&mut doc, member(1), sid(2), draft("Chapter 2"), after(3)).unwrap();
    assert_eq!(balance(&doc, 1), "0.5");
    let heads = doc.get_heads();
    let err = ops::submit(&mut doc, member(1), sid(3), draft("Chapter 3"), after(4)).unwrap_err();
    assert_eq!(doc.get_heads(), heads, "a refused submission wrote nothing");
    // Chapter 2 is still open, so Chapter 3 costs 3 + 4.
    assert_eq!(
        err.to_string(),
        "'Chapter 3' needs 7 credits, you have 0.5 — critique a piece to earn more"
    );
}

#[test]
fn each_further_open_submission_costs_four_more_and_finished_ones_do_not_count() {
    let mut doc = group_with(4);
    set(&mut doc, 1, &[("starting_credits", "20")], 1);
    // Members joined before the change: they keep the 3 they started with.
    assert_eq!(balance(&doc, 0), "3");
    ops::add_member(&mut doc, new_member_named(4, "Eve Stone"), after(2)).unwrap();
    assert_eq!(balance(&doc, 4), "20");
    let mut d = draft("One");
    d.critiques_wanted = Some(1);
    ops::submit(&mut doc, member(4), sid(1), d, after(3)).unwrap();
    ops::submit(&mut doc, member(4), sid(2), draft("Two"), after(4)).unwrap();
    assert_eq!(balance(&doc, 4), "10", "3, then 3 + 4 with One open");
    critique(&mut doc, 1, 1, 1, 10, 5);
    // One has its one critique, so only Two is open: 3 + 4 again.
    ops::submit(&mut doc, member(4), sid(3), draft("Three"), after(6)).unwrap();
    assert_eq!(balance(&doc, 4), "3");
}

#[test]
fn critiques_earn_by_length_under_the_rules_of_their_time() {
    let mut doc = group_with(2);
    ops::submit(&mut doc, member(0), sid(1), draft("The Mill"), after(1)).unwrap();
    critique(&mut doc, 1, 1, 1, 412, 2);
    set(&mut doc, 1, &[("credits", "off")], 3);
    ops::submit(&mut doc, member(0), sid(2), draft("Free"), after(4)).unwrap();
    critique(&mut doc, 1, 2, 2, 950, 5);
    set(&mut doc, 2, &[("credits", "on")], 6);
    let group = doc::read_group(&doc).unwrap();
    let l = ledger(&group, member(1));
    let lines: Vec<String> = l.entries.iter().map(|e| e.text()).collect();
    assert_eq!(
        lines,
        [
            "+3 joined the group",
            "+1 critique of 'The Mill' (412 words)"
        ],
        "nothing counted while credits were off"
    );
    assert_eq!(ledger(&group, member(0)).balance.to_string(), "0");
}

#[test]
fn a_tip_moves_a_credit_from_author_to_reviewer_once() {
    let mut doc = group_with(2);
    ops::submit(&mut doc, member(0), sid(1), draft("The Mill"), after(1)).unwrap();
    critique(&mut doc, 1, 1, 1, 100, 2);
    let err = ops::tip(&mut doc, member(0), sid(1), cid(1), after(3)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a tip needs 1 credits, you have 0 — critique a piece to earn more"
    );
    // The author earns something first.
    ops::submit(&mut doc, member(1), sid(2), draft("Chapter 2"), after(3)).unwrap();
    critique(&mut doc, 0, 2, 2, 700, 4);
    let err = ops::tip(&mut doc, member(1), sid(1), cid(1), after(5)).unwrap_err();
    assert!(matches!(err, OpError::NotAuthor { .. }), "{err}");
    assert_eq!(
        ops::tip(&mut doc, member(0), sid(1), cid(1), after(5)),
        Ok(Credits::whole(1))
    );
    let err = ops::tip(&mut doc, member(0), sid(1), cid(1), after(6)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "you already tipped Ben Okafor for this critique"
    );
    let group = doc::read_group(&doc).unwrap();
    let all = ledgers(&group);
    assert_eq!(all[&member(0)].balance.to_string(), "0.5");
    assert_eq!(
        all[&member(1)].entries.last().unwrap().text(),
        "+1 tip from Julia Amante for your critique of 'The Mill'"
    );
}

#[test]
fn an_offline_double_spend_overdraws_and_says_so() {
    let base = group_with(2);
    let mut a = base.fork().with_actor(actor(30));
    let mut b = base.fork().with_actor(actor(31));
    ops::submit(&mut a, member(1), sid(1), draft("Laptop piece"), after(1)).unwrap();
    ops::submit(&mut b, member(1), sid(2), draft("Phone piece"), after(2)).unwrap();
    a.merge(&mut b).unwrap();
    let l = ledger(&doc::read_group(&a).unwrap(), member(1));
    assert_eq!(l.balance.to_string(), "-7", "3 - 3 - (3 + 4)");
    assert!(l.overdrawn);
    assert_eq!(l.entries.len(), 3, "both submissions stay in history");
    let err = ops::submit(&mut a, member(1), sid(3), draft("More"), after(3)).unwrap_err();
    assert!(err.to_string().contains("you have -7"), "{err}");
}

#[test]
fn rules_are_changed_by_organizers_only_and_bad_values_are_named() {
    let mut doc = group_with(2);
    let values = vec![("claim_period_days".to_string(), "5".to_string())];
    let heads = doc.get_heads();
    let err = ops::change_rules(&mut doc, member(1), rid(1), &values, after(1)).unwrap_err();
    assert_eq!(err.to_string(), "only an organizer can change the rules");
    for (k, v, msg) in [
        ("claim_days", "5", "unknown rule `claim_days`"),
        (
            "claim_period_days",
            "0",
            "rule claim_period_days cannot be `0`",
        ),
        ("credits", "maybe", "rule credits cannot be `maybe`"),
    ] {
        let values = vec![(k.to_string(), v.to_string())];
        let err = ops::change_rules(&mut doc, member(0), rid(1), &values, after(1)).unwrap_err();
        assert!(err.to_string().starts_with(msg), "{err}");
    }
    assert_eq!(doc.get_heads(), heads);
    let rules = ops::change_rules(&mut doc, member(0), rid(1), &values, after(1)).unwrap();
    assert_eq!(rules.claim_period_days, 5);
    let info = doc::read_info(&doc).unwrap();
    assert_eq!(info.rules.claim_period_days, 7, "the founding rules stay");
    assert_eq!(info.rules_at(after(0)).claim_period_days, 7);
    assert_eq!(info.rules_at(after(1)).claim_period_days, 5);
}

#[test]
fn max_words_refuses_a_long_piece() {
    let mut doc = group_with(1);
    set(&mut doc, 1, &[("max_words", "5")], 0);
    let err = ops::submit(&mut doc, member(0), sid(1), draft("Long"), after(1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the piece is 9 words; this group takes at most 5"
    );
}

#[test]
fn rule_changes_on_two_devices_both_count_in_time_order() {
    let base = group_with(1);
    let mut a = base.fork().with_actor(actor(40));
    let mut b = base.fork().with_actor(actor(41));
    set(&mut a, 1, &[("claim_period_days", "3")], 2);
    set(&mut b, 2, &[("claim_period_days", "9"), ("tip", "2")], 1);
    let mut ab = a.clone();
    ab.merge(&mut b.clone()).unwrap();
    let mut ba = b.clone();
    ba.merge(&mut a.clone()).unwrap();
    for doc in [&ab, &ba] {
        let rules = doc::read_info(doc).unwrap().rules_at(after(5));
        assert_eq!(rules.claim_period_days, 3, "the later change wins");
        assert_eq!(rules.tip, Credits::whole(2));
    }
}

#[test]
fn a_document_without_the_new_keys_reads_with_defaults() {
    use automerge::ReadDoc;
    use automerge::transaction::Transactable;
    let mut doc = group_with(1);
    let mut tx = doc.transaction();
    let (_, group) = tx.get(automerge::ROOT, "group").unwrap().unwrap();
    tx.delete(&group, "rule_changes").unwrap();
    let (_, rules) = tx.get(&group, "rules").unwrap().unwrap();
    for key in ["max_words", "credits", "starting_credits", "tip"] {
        tx.delete(&rules, key).unwrap();
    }
    tx.commit();
    let group = doc::read_group(&doc).unwrap();
    assert!(group.skipped.is_empty(), "{:?}", group.skipped);
    assert_eq!(group.info.rules, Default::default());
    assert!(group.info.rule_changes.is_empty());
    // The first change makes the map.
    set(&mut doc, 1, &[("tip", "0.5")], 1);
    assert_eq!(
        doc::read_info(&doc).unwrap().rules_at(after(1)).tip,
        Credits::halves(1)
    );
}

#[test]
fn a_claim_lapses_and_the_first_in_line_moves_up_with_a_full_period() {
    let mut doc = group_with(4);
    let mut d = draft("Flash");
    d.critiques_wanted = Some(1);
    ops::submit(&mut doc, member(0), sid(1), d, after(0)).unwrap();
    assert_eq!(
        ops::claim(&mut doc, member(1), sid(1), after(1)),
        Ok(LinePosition::Holder)
    );
    assert_eq!(
        ops::claim(&mut doc, member(2), sid(1), after(2)),
        Ok(LinePosition::Waiting(1))
    );
    let sub = doc::read_submission(&doc, sid(1)).unwrap().unwrap();
    // Member 1's seven days run out at hour 169; member 2 moves up then, for seven days.
    let line = views::claim_line(&sub, after(170));
    assert_eq!(line.lapsed, [(member(1), after(169))]);
    assert_eq!(line.holders[0].0, member(2));
    assert_eq!(line.holders[0].1.expires_at, after(169 + 168));
    // Still holding a day before that, although eight days have passed since claiming.
    let line = views::claim_line(&sub, after(169 + 167));
    assert_eq!(line.position_of(member(2)), Some(LinePosition::Holder));
    ops::critique(
        &mut doc,
        member(2),
        sid(1),
        cid(1),
        &words(300),
        after(169 + 167),
    )
    .unwrap();
    let err = ops::critique(&mut doc, member(1), sid(1), cid(2), &words(300), after(200))
        .unwrap_err()
        .to_string();
    assert!(err.contains("lapsed"), "{err}");
}

#[test]
fn a_released_claim_lets_the_next_move_up_at_once() {
    let mut doc = group_with(4);
    let mut d = draft("Flash");
    d.critiques_wanted = Some(1);
    ops::submit(&mut doc, member(0), sid(1), d, after(0)).unwrap();
    ops::claim(&mut doc, member(1), sid(1), after(1)).unwrap();
    ops::claim(&mut doc, member(2), sid(1), after(2)).unwrap();
    ops::unclaim(&mut doc, member(1), sid(1), after(10)).unwrap();
    let sub = doc::read_submission(&doc, sid(1)).unwrap().unwrap();
    let line = views::claim_line(&sub, after(11));
    assert_eq!(line.holders[0].0, member(2));
    assert_eq!(line.holders[0].1.expires_at, after(10 + 168));
    assert!(line.lapsed.is_empty());
    // Released, member 1 may claim again; they wait behind member 2.
    assert_eq!(
        ops::claim(&mut doc, member(1), sid(1), after(12)),
        Ok(LinePosition::Waiting(1))
    );
    let r = reliability(&doc::read_group(&doc).unwrap(), member(1), after(12));
    assert_eq!((r.claims_made, r.open, r.released), (1, 1, 0));
}

#[test]
fn suggestions_skip_mine_and_claimed_and_say_why() {
    let mut doc = group_with(4);
    set(&mut doc, 1, &[("credits", "off")], 0);
    let me = member(1);
    let genres = ProfilePatch {
        genres: Some(["poetry".to_string()].into_iter().collect()),
        ..Default::default()
    };
    ops::update_profile(&mut doc, me, genres, after(0)).unwrap();
    ops::submit(&mut doc, me, sid(1), draft("Mine"), after(1)).unwrap();
    let mut poem = draft("Poem");
    poem.genre = "Poetry".into();
    ops::submit(&mut doc, member(2), sid(2), poem, after(1)).unwrap();
    ops::submit(&mut doc, member(3), sid(3), draft("Dan's"), after(1)).unwrap();
    ops::submit(&mut doc, member(0), sid(4), draft("Julia's"), after(1)).unwrap();
    ops::submit(&mut doc, member(2), sid(5), draft("Claimed"), after(1)).unwrap();
    ops::claim(&mut doc, me, sid(5), after(2)).unwrap();
    // Julia critiqued me; I have not repaid her.
    critique(&mut doc, 0, 1, 1, 200, 2);
    // Dan's piece already has a critique.
    critique(&mut doc, 2, 3, 2, 200, 2);
    let group = doc::read_group(&doc).unwrap();
    let next = suggestions(&group, me, after(3));
    let titles: Vec<&str> = next.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["Poem", "Julia's", "Dan's"]);
    assert_eq!(
        next[0].reasons,
        ["no critiques yet", "in your genre (poetry)"]
    );
    assert_eq!(
        next[1].reasons,
        [
            "no critiques yet",
            "Julia Amante critiqued you once more than you critiqued them"
        ]
    );
    assert_eq!(next[2].reasons, ["1 of 3 critiques so far"]);
    // On hiatus: nothing.
    let hiatus = ProfilePatch {
        hiatus_until: Some(Some("2027-01-01".parse().unwrap())),
        ..Default::default()
    };
    ops::update_profile(&mut doc, me, hiatus, after(3)).unwrap();
    let group = doc::read_group(&doc).unwrap();
    assert!(suggestions(&group, me, after(4)).is_empty());
}

#[test]
fn reliability_counts_claims_kept_and_ratings() {
    let mut doc = group_with(3);
    set(&mut doc, 1, &[("credits", "off")], 0);
    ops::submit(&mut doc, member(0), sid(1), draft("One"), after(0)).unwrap();
    ops::submit(&mut doc, member(0), sid(2), draft("Two"), after(0)).unwrap();
    ops::submit(&mut doc, member(2), sid(3), draft("Three"), after(0)).unwrap();
    critique(&mut doc, 1, 1, 1, 300, 1);
    ops::rate(&mut doc, member(0), sid(1), cid(1), 4, after(2)).unwrap();
    ops::claim(&mut doc, member(1), sid(2), after(2)).unwrap();
    ops::claim(&mut doc, member(1), sid(3), after(300)).unwrap();
    critique(&mut doc, 0, 3, 2, 300, 301);
    let group = doc::read_group(&doc).unwrap();
    let r = reliability(&group, member(1), after(302));
    assert_eq!(r.claims_made, 3);
    assert_eq!((r.delivered_on_time, r.lapsed, r.open), (1, 1, 1));
    assert_eq!(r.summary().as_deref(), Some("1/2 claims delivered on time"));
    assert_eq!(r.average_rating().as_deref(), Some("4.0"));
    assert_eq!((r.critiques_given, r.critiques_received), (1, 0));
    let log = interactions(&group, member(0), member(1));
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].reviewer, log[0].author), (member(1), member(0)));
    let log = interactions(&group, member(0), member(2));
    assert_eq!(log[0].reviewer, member(0));
}

#[test]
fn activity_reads_who_did_what_from_the_history_newest_first() {
    let mut doc = group_with(2);
    ops::submit(&mut doc, member(0), sid(1), draft("The Mill"), after(1)).unwrap();
    let mut bens = doc.fork().with_actor(quire_store::session_actor(device(1)));
    ops::claim(&mut bens, member(1), sid(1), after(2)).unwrap();
    doc.merge(&mut bens).unwrap();
    set(&mut doc, 1, &[("tip", "2")], 3);
    let group = doc::read_group(&doc).unwrap();
    let feed = activity(&group, &doc::history(&doc), Some(after(2)));
    let lines: Vec<String> = feed
        .iter()
        .map(|a| format!("{}: {}", a.who, a.what))
        .collect();
    assert_eq!(
        lines,
        [
            "someone: changed the rules: tip=2",
            "Ben Okafor: claimed 'The Mill'"
        ]
    );
}
