use jiff::SignedDuration;
use quire_store::doc::{self, ProfilePatch};
use quire_store::ids::{CritiqueId, SubmissionId};
use quire_store::inbox::{InboxKind, inbox, unread_count};
use quire_store::ops;
use quire_store::personal::Personal;

use super::support::*;

fn sid(n: u8) -> SubmissionId {
    SubmissionId::from_bytes([n; 16])
}

fn cid(n: u8) -> CritiqueId {
    CritiqueId::from_bytes([n; 16])
}

#[test]
fn critiques_claims_new_pieces_and_thanks_each_reach_whom_they_concern() {
    let mut doc = group_with(3);
    let genres = ProfilePatch {
        genres: Some(["historical fiction".to_string()].into()),
        ..Default::default()
    };
    ops::update_profile(&mut doc, member(1), genres, t0()).unwrap();
    // Julia and Cara each submit a piece; Ben critiques Julia's and is thanked; Julia claims
    // Cara's.
    ops::submit(&mut doc, member(0), sid(1), draft("The Mill"), after(1)).unwrap();
    ops::submit(&mut doc, member(2), sid(2), draft("Lanterns"), after(2)).unwrap();
    ops::claim(&mut doc, member(1), sid(1), after(3)).unwrap();
    ops::critique(
        &mut doc,
        member(1),
        sid(1),
        cid(1),
        "The wheel is vivid.",
        after(4),
    )
    .unwrap();
    ops::thank(&mut doc, member(0), sid(1), cid(1), after(5)).unwrap();
    ops::claim(&mut doc, member(0), sid(2), after(6)).unwrap();
    let group = doc::read_group(&doc).unwrap();
    let now = after(7);

    let julia = inbox(&group, member(0), &Personal::default(), now);
    assert_eq!(julia.len(), 2, "{julia:#?}");
    assert!(matches!(julia[0].kind, InboxKind::Critique { reviewer, .. } if reviewer == member(1)));
    assert!(julia[0].unread);
    assert_eq!(julia[0].headline(), "Ben Okafor critiqued “The Mill”");
    assert!(
        matches!(julia[1].kind, InboxKind::Claim { lapsing: false, .. }),
        "{julia:#?}"
    );
    assert!(!julia[1].unread);
    assert_eq!(unread_count(&julia), 1);

    // Ben: thanked for The Mill; Lanterns is new in his genre.
    let ben = inbox(&group, member(1), &Personal::default(), now);
    let kinds: Vec<_> = ben.iter().map(|i| i.headline()).collect();
    assert_eq!(
        kinds,
        [
            "Julia Amante thanked you for your critique of “The Mill”",
            "New in your genres: “Lanterns” by Cara Lind",
        ]
    );
    assert_eq!(unread_count(&ben), 2);

    // Cara's piece is claimed but not critiqued yet: nothing needs her.
    assert!(inbox(&group, member(2), &Personal::default(), now).is_empty());

    // Julia's claim is flagged once it is within a day of lapsing, and comes first.
    let InboxKind::Claim { expires_at, .. } = julia[1].kind else {
        unreachable!()
    };
    let late = expires_at - SignedDuration::from_hours(2);
    let julia = inbox(&group, member(0), &Personal::default(), late);
    assert!(julia[0].urgent());
    assert_eq!(
        julia[0].headline(),
        "Your claim on “Lanterns” lapses within a day"
    );
    assert_eq!(unread_count(&julia), 2);
}

#[test]
fn what_was_read_stays_read_and_drops_out_after_a_month() {
    let mut doc = group_with(2);
    ops::submit(&mut doc, member(0), sid(1), draft("The Mill"), after(1)).unwrap();
    ops::claim(&mut doc, member(1), sid(1), after(2)).unwrap();
    ops::critique(&mut doc, member(1), sid(1), cid(1), "Vivid.", after(3)).unwrap();
    let group = doc::read_group(&doc).unwrap();
    let mut personal = Personal::default();
    let items = inbox(&group, member(0), &personal, after(4));
    personal.read.insert(items[0].key.clone(), after(4));
    let items = inbox(&group, member(0), &personal, after(5));
    assert_eq!(items.len(), 1);
    assert!(!items[0].unread);
    assert_eq!(unread_count(&items), 0);
    assert!(inbox(&group, member(0), &personal, after(24 * 31)).is_empty());
    // Unread, it stays.
    assert_eq!(
        inbox(&group, member(0), &Personal::default(), after(24 * 31)).len(),
        1
    );
}
