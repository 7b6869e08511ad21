//! A hostile member: Bea is a real member of the group, but her device runs a modified client
//! that writes straight into the automerge document, bypassing `quire_store::ops`, and then
//! syncs as usual. Each test makes one forbidden change that way and checks, on the honest
//! devices, that
//! - the device it reaches (the victim) refuses it: the change is not in its document and its
//!   model shows no trace of it;
//! - the victim names the sender: a [`SyncEvent::ChangeRefused`] and an entry in
//!   [`quire_sync::status::GroupStatus::refused`], with Bea's device and member;
//! - it is not relayed: the other honest member, away during the attack and back afterwards,
//!   never holds it;
//! - honest edits keep flowing between the victim and the other honest member.
//!
//! Bea's node sends whatever her document holds, so after a refused forgery it offers the
//! same change again on every new session and is refused again: she stays cut off until the
//! forgery is gone from her document. That is intended.

use automerge::ChangeHash;
use automerge::transaction::Transactable;
use jiff::Timestamp;
use quire_store::doc::{self as layout, CritiqueMark};
use quire_store::exchange::ledger::ledgers;
use quire_store::model::{Critique, Device, RuleChange};
use quire_store::ops::{self, SubmissionDraft};
use quire_store::{
    CritiqueId, GroupId, MemberId, RuleChangeId, SubmissionId, device_of_actor, session_actor,
};
use quire_sync::{InviteOptions, SyncEvent};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::access::hello_and_read;
use crate::support::{
    Forgery, PATIENCE, Peer, bio_of, converge_within, eventually_within, forge, map_at, pair,
};

/// The honest devices: Ann founded the group and organizes it, Cal is a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Honest {
    Ann,
    Cal,
}

impl Honest {
    /// The other honest device.
    fn other(self) -> Honest {
        match self {
            Honest::Ann => Honest::Cal,
            Honest::Cal => Honest::Ann,
        }
    }
}

/// Ann (founder, organizer), Bea (the attacker) and Cal in one group, with their member ids.
struct Trio {
    ann: Peer,
    bea: Peer,
    cal: Peer,
    group: GroupId,
    ann_id: MemberId,
    bea_id: MemberId,
    cal_id: MemberId,
}

/// What the victim said when it refused a change.
#[derive(Debug)]
struct Refusal {
    member: Option<MemberId>,
    reason: String,
}

impl Trio {
    /// All three online and converged; Bea and Cal joined with Ann's invites.
    async fn new() -> Trio {
        let mut ann = Peer::new("Ann");
        let mut bea = Peer::new("Bea");
        let mut cal = Peer::new("Cal");
        let group = pair(&mut ann, &mut bea).await;
        cal.online().await;
        let ticket = ann.invite(group, InviteOptions::default()).await;
        cal.join(&ticket).await.expect("Cal joins");
        converge_within(group, &[&ann, &bea, &cal], PATIENCE).await;
        let ann_id = ann.member_id(group, "Ann").await;
        let bea_id = ann.member_id(group, "Bea").await;
        let cal_id = ann.member_id(group, "Cal").await;
        Trio {
            ann,
            bea,
            cal,
            group,
            ann_id,
            bea_id,
            cal_id,
        }
    }

    fn peer(&self, who: Honest) -> &Peer {
        match who {
            Honest::Ann => &self.ann,
            Honest::Cal => &self.cal,
        }
    }

    fn peer_mut(&mut self, who: Honest) -> &mut Peer {
        match who {
            Honest::Ann => &mut self.ann,
            Honest::Cal => &mut self.cal,
        }
    }

    async fn converged(&self) {
        converge_within(self.group, &[&self.ann, &self.bea, &self.cal], PATIENCE).await;
    }

    /// Ann hands in a piece (a real operation); everyone has it.
    async fn ann_submits(&self) -> SubmissionId {
        let sub = SubmissionId::random();
        self.ann
            .handle()
            .edit(self.group, move |g| {
                g.act(|doc, me| {
                    let draft = SubmissionDraft {
                        title: "The Mill".into(),
                        genre: "historical".into(),
                        text: "It was a dark mill.".into(),
                        ..Default::default()
                    };
                    ops::submit(doc, me, sub, draft, Timestamp::now())
                })
            })
            .await
            .expect("Ann's node takes the edit")
            .expect("Ann submits");
        self.converged().await;
        sub
    }

    /// Cal claims Ann's piece and delivers a critique of it (real operations); everyone has it.
    async fn cal_critiques(&self, sub: SubmissionId) -> CritiqueId {
        let critique = CritiqueId::random();
        self.cal
            .handle()
            .edit(self.group, move |g| {
                g.act(|doc, me| ops::claim(doc, me, sub, Timestamp::now()))?;
                g.act(|doc, me| {
                    let body = "The mill turns slowly; so does the middle.";
                    ops::critique(doc, me, sub, critique, body, Timestamp::now())
                })
            })
            .await
            .expect("Cal's node takes the edit")
            .expect("Cal critiques");
        self.converged().await;
        critique
    }

    /// Sends the other honest device away, so that whatever it holds later came through the
    /// victim; connects Bea's device to the victim's; returns the victim's events from now on.
    async fn isolate(&mut self, victim: Honest) -> broadcast::Receiver<SyncEvent> {
        self.peer_mut(victim.other()).offline().await;
        let (group, target) = (self.group, self.peer(victim));
        target.introduce(&self.bea);
        self.bea.introduce(target);
        let bea = self.bea.device();
        eventually_within("Bea's device is connected to the victim", PATIENCE, || {
            target.connected_to(group, bea)
        })
        .await;
        target.handle().subscribe()
    }

    /// Bea's node commits `forgeries` (one raw change each) while connected to `victim` only;
    /// checks the victim refuses them and names her.
    async fn attack(&mut self, victim: Honest, forgeries: Vec<Forgery>) -> Vec<ChangeHash> {
        let mut events = self.isolate(victim).await;
        let since = Timestamp::now();
        let forged = self.bea.raw_edits(self.group, forgeries).await;
        self.refuses(victim, &mut events, &forged, since).await;
        forged
    }

    /// The victim refuses the forged changes (the first of them at least; the rest depend on
    /// it), applies none of them, and names Bea's device and member in an event and in its
    /// status.
    async fn refuses(
        &self,
        victim: Honest,
        events: &mut broadcast::Receiver<SyncEvent>,
        forged: &[ChangeHash],
        since: Timestamp,
    ) -> Refusal {
        let (group, target) = (self.group, self.peer(victim));
        for hash in forged {
            assert!(
                self.bea.has_change(group, *hash).await,
                "Bea's own document holds her forgery {hash}"
            );
        }
        let bea = self.bea.device();
        let refusal = change_refused(events, group, bea).await;
        assert_eq!(refusal.member, Some(self.bea_id), "the refusal names Bea");
        assert!(!refusal.reason.is_empty(), "the refusal says why");
        for hash in forged {
            assert!(
                !target.has_change(group, *hash).await,
                "{} does not hold the forgery {hash}",
                target.name
            );
        }
        eventually_within(
            "the victim's status lists Bea as refused",
            PATIENCE,
            || async {
                target.group_status(group).await.refused.iter().any(|r| {
                    r.device == bea.to_string()
                        && r.member.as_deref() == Some("Bea")
                        && !r.reason.is_empty()
                        && r.at >= since
                })
            },
        )
        .await;
        refusal
    }

    /// The other honest device comes back and syncs with the victim (Bea's node stays as it
    /// is, refused): honest edits flow both ways, and neither honest device holds any forged
    /// change.
    async fn honest_edits_flow(&mut self, victim: Honest, forged: &[ChangeHash]) {
        let group = self.group;
        self.peer_mut(victim.other()).online().await;
        let (target, third) = (self.peer(victim), self.peer(victim.other()));
        // The returning node listens on a new port: tell both where the other is.
        target.introduce(third);
        third.introduce(target);
        for (from, to) in [(third, target), (target, third)] {
            let bio = format!("{} after the attack", from.name);
            from.set_bio(group, &bio).await;
            let what = format!("{} sees {}'s honest edit", to.name, from.name);
            eventually_within(&what, PATIENCE, || async {
                bio_of(to, group, &from.name).await.as_deref() == Some(bio.as_str())
            })
            .await;
        }
        converge_within(group, &[target, third], PATIENCE).await;
        for hash in forged {
            for honest in [target, third] {
                assert!(
                    !honest.has_change(group, *hash).await,
                    "{} never gets Bea's forgery {hash}",
                    honest.name
                );
            }
        }
    }
}

/// The first [`SyncEvent::ChangeRefused`] for `group` naming `device` as the sender.
async fn change_refused(
    events: &mut broadcast::Receiver<SyncEvent>,
    group: GroupId,
    device: quire_store::DeviceId,
) -> Refusal {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(SyncEvent::ChangeRefused {
                    group: g,
                    device: d,
                    member,
                    reason,
                    ..
                }) if g == group && d == device => return Refusal { member, reason },
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => panic!("the victim's node stopped"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("the victim reports the refused change and who sent it")
}

/// A raw change that sets `field` of member `member` to `value`.
fn put_member_field(
    member: MemberId,
    field: &'static str,
    value: impl Into<automerge::ScalarValue> + Send + 'static,
) -> Forgery {
    forge(move |tx| {
        let obj = map_at(&*tx, &["members", &member.to_string()]);
        tx.put(&obj, field, value).expect("a raw put");
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_make_herself_organizer() {
    let mut t = Trio::new().await;
    let forged = t
        .attack(
            Honest::Ann,
            vec![put_member_field(t.bea_id, "organizer", true)],
        )
        .await;
    assert!(!t.ann.member(t.group, "Bea").await.organizer);
    t.honest_edits_flow(Honest::Ann, &forged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_promote_herself_then_remove_the_founder() {
    // Bea's own node drops Ann once its document says Ann is gone, so the chain goes to Cal.
    let mut t = Trio::new().await;
    let removed_at = Timestamp::now().as_millisecond();
    let forged = t
        .attack(
            Honest::Cal,
            vec![
                put_member_field(t.bea_id, "organizer", true),
                put_member_field(t.ann_id, "removed_at", removed_at),
            ],
        )
        .await;
    assert!(!t.cal.member(t.group, "Bea").await.organizer);
    let ann = t.cal.member(t.group, "Ann").await;
    assert!(ann.organizer && ann.removed_at.is_none(), "{ann:?}");
    t.honest_edits_flow(Honest::Cal, &forged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_is_no_organizer_cannot_remove_the_founder() {
    let mut t = Trio::new().await;
    let ann = t.ann_id;
    let forged = t
        .attack(
            Honest::Cal,
            vec![forge(move |tx| {
                layout::set_removed(tx, ann, Timestamp::now()).expect("a raw removal");
            })],
        )
        .await;
    assert!(t.cal.member(t.group, "Ann").await.removed_at.is_none());
    // Cal still syncs with Ann, so Ann is not shut out.
    t.honest_edits_flow(Honest::Cal, &forged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_change_the_rules_backdated_in_the_founders_name() {
    let mut t = Trio::new().await;
    let before = t.ann.model(t.group).await;
    let change = RuleChange {
        id: RuleChangeId::random(),
        at: "2020-01-01T00:00:00Z".parse().expect("a time"),
        by: t.ann_id,
        values: [("starting_credits".to_string(), "100".to_string())].into(),
    };
    let id = change.id;
    let forged = t
        .attack(
            Honest::Ann,
            vec![forge(move |tx| {
                layout::put_rule_change(tx, &change).expect("a raw rule change");
            })],
        )
        .await;
    let after = t.ann.model(t.group).await;
    assert!(after.info.rule_changes.iter().all(|c| c.id != id));
    assert_eq!(
        after.info.rules_at(Timestamp::now()),
        before.info.rules_at(Timestamp::now())
    );
    let balances = |g: &quire_store::model::Group| {
        ledgers(g)
            .into_values()
            .map(|l| (l.member, l.balance))
            .collect::<Vec<_>>()
    };
    assert_eq!(balances(&after), balances(&before), "no ledger rewritten");
    t.honest_edits_flow(Honest::Ann, &forged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_rewrite_anothers_submission() {
    let mut t = Trio::new().await;
    let sub = t.ann_submits().await;
    let forged = t
        .attack(
            Honest::Ann,
            vec![forge(move |tx| {
                let obj = map_at(&*tx, &["submissions", &sub.to_string()]);
                tx.put(&obj, "title", "The Mill, Improved")
                    .expect("a raw put");
                tx.put(&obj, "text", "Bea wrote this now.")
                    .expect("a raw put");
            })],
        )
        .await;
    let piece = &t.ann.model(t.group).await.submissions[&sub];
    assert_eq!(
        (piece.title.as_str(), piece.text.as_str(), piece.author),
        ("The Mill", "It was a dark mill.", t.ann_id)
    );
    t.honest_edits_flow(Honest::Ann, &forged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_write_a_critique_in_anothers_name() {
    let mut t = Trio::new().await;
    let sub = t.ann_submits().await;
    let critique = Critique {
        id: CritiqueId::random(),
        reviewer: t.cal_id,
        body: "Dreadful.".into(),
        word_count: 1,
        delivered_at: Timestamp::now(),
        rating: Some(1),
        thanked_at: None,
        tipped_at: None,
    };
    let forged = t
        .attack(
            Honest::Ann,
            vec![forge(move |tx| {
                layout::put_critique(tx, sub, &critique).expect("a raw critique");
            })],
        )
        .await;
    let model = t.ann.model(t.group).await;
    assert!(model.submissions[&sub].critiques.is_empty());
    t.honest_edits_flow(Honest::Ann, &forged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_pieces_author_rates_its_critiques() {
    let mut t = Trio::new().await;
    let sub = t.ann_submits().await;
    let critique = t.cal_critiques(sub).await;
    let forged = t
        .attack(
            Honest::Ann,
            vec![forge(move |tx| {
                layout::mark_critique(tx, sub, critique, CritiqueMark::Rated(1))
                    .expect("a raw rating");
            })],
        )
        .await;
    let model = t.ann.model(t.group).await;
    assert_eq!(model.submissions[&sub].critiques[&critique].rating, None);
    t.honest_edits_flow(Honest::Ann, &forged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_under_anothers_device_key_is_refused_as_unsigned() {
    // Bea writes as an actor that starts with Ann's device key, which she cannot sign for.
    let mut t = Trio::new().await;
    let (group, ann) = (t.group, t.ann_id);
    let ann_device = t.ann.device();
    let before = t.cal.member(group, "Ann").await.profile.bio;
    let mut events = t.isolate(Honest::Cal).await;
    let since = Timestamp::now();
    let forged = t
        .bea
        .raw_edit_as(group, session_actor(ann_device), move |tx| {
            let obj = map_at(&*tx, &["members", &ann.to_string()]);
            tx.put(&obj, "bio", "I quit. Bea runs the group now.")
                .expect("a raw put");
        })
        .await;
    let actor = t
        .bea
        .raw_doc(group, move |doc| {
            doc.get_change_meta_by_hash(&forged)
                .and_then(|meta| device_of_actor(&meta.actor))
        })
        .await;
    assert_eq!(actor, Some(ann_device), "the forgery claims Ann's device");
    let refusal = t.refuses(Honest::Cal, &mut events, &[forged], since).await;
    assert!(
        refusal.reason.to_lowercase().contains("sign"),
        "refused for its signature: {refusal:?}"
    );
    assert_eq!(t.cal.member(group, "Ann").await.profile.bio, before);
    t.honest_edits_flow(Honest::Cal, &[forged]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_delete_anothers_device() {
    // Bea's own node drops Ann once Ann's device is gone from its document, so this goes to Cal.
    let mut t = Trio::new().await;
    let (ann, ann_device) = (t.ann_id, t.ann.device());
    let forged = t
        .attack(
            Honest::Cal,
            vec![forge(move |tx| {
                let devices = map_at(&*tx, &["members", &ann.to_string(), "devices"]);
                tx.delete(&devices, ann_device.to_string().as_str())
                    .expect("a raw delete");
            })],
        )
        .await;
    let devices = t.cal.member(t.group, "Ann").await.devices;
    assert!(devices.contains_key(&ann_device), "{devices:?}");
    // Cal still syncs with Ann, so Ann is not shut out.
    t.honest_edits_flow(Honest::Cal, &forged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_add_a_device_to_anothers_entry_without_an_invite() {
    let mut t = Trio::new().await;
    let eve = Peer::new("Eve");
    let (cal, eve_device) = (t.cal_id, eve.device());
    let forged = t
        .attack(
            Honest::Ann,
            vec![forge(move |tx| {
                let device = Device {
                    label: "Cal's other phone".into(),
                    added_at: Timestamp::now(),
                };
                layout::put_device(tx, cal, eve_device, &device).expect("a raw device");
            })],
        )
        .await;
    let devices = t.ann.member(t.group, "Cal").await.devices;
    assert!(!devices.contains_key(&eve_device), "{devices:?}");
    assert_eq!(
        hello_and_read(&eve, &t.ann, t.group).await,
        None,
        "Ann syncs nothing to the planted key"
    );
    t.honest_edits_flow(Honest::Ann, &forged).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forger_stays_cut_off_while_her_forgery_is_in_her_document() {
    let mut t = Trio::new().await;
    let group = t.group;
    let forged = t
        .attack(
            Honest::Ann,
            vec![put_member_field(t.bea_id, "organizer", true)],
        )
        .await;
    // An honest edit on top of the forgery: her node offers both again on its next session.
    let mut events = t.ann.handle().subscribe();
    t.bea.set_bio(group, "honest after all").await;
    let honest = t.bea.heads(group).await;
    t.bea.introduce(&t.ann);
    let bea = t.bea.device();
    let again = tokio::time::timeout(PATIENCE, async {
        loop {
            match events.recv().await {
                Ok(SyncEvent::ChangeRefused { device, .. } | SyncEvent::Refused { device, .. })
                    if device == bea =>
                {
                    return;
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => panic!("Ann's node stopped"),
            }
        }
    });
    again.await.expect("Ann refuses Bea again");
    for hash in &honest {
        assert!(!t.ann.has_change(group, *hash).await);
    }
    assert_ne!(
        bio_of(&t.ann, group, "Bea").await.as_deref(),
        Some("honest after all")
    );
    let mut cut_off = forged;
    cut_off.extend(honest);
    t.honest_edits_flow(Honest::Ann, &cut_off).await;
}

/// Ann removes Bea through the real operation, from her own node.
async fn ann_removes_bea(t: &Trio) {
    let bea = t.bea_id;
    t.ann
        .handle()
        .edit(t.group, move |g| {
            g.act(|doc, me| ops::remove_member(doc, me, bea, Timestamp::now()))
        })
        .await
        .expect("Ann's node takes the edit")
        .expect("Ann removes Bea");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_members_later_change_is_refused_at_the_door() {
    let mut t = Trio::new().await;
    let group = t.group;
    t.cal.offline().await;
    ann_removes_bea(&t).await;
    let ann_device = t.ann.device();
    eventually_within("Ann has cut Bea off", PATIENCE, || async {
        !t.bea.connected_to(group, ann_device).await
    })
    .await;
    let forged = t
        .bea
        .raw_edit(group, put_member_field(t.bea_id, "bio", "still here"))
        .await;
    assert_eq!(
        hello_and_read(&t.bea, &t.ann, group).await,
        None,
        "Ann refuses a session from Bea's device"
    );
    t.bea.offline().await;
    t.honest_edits_flow(Honest::Ann, &[forged]).await;
    let bea = t.ann.model(group).await.members[&t.bea_id].clone();
    assert!(bea.removed_at.is_some() && bea.profile.bio != "still here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_after_her_own_removal_is_refused_by_the_member_it_reaches() {
    // Cal has not seen Bea's removal; Bea has (the test hands her Ann's removal change) and
    // writes on top of it, then syncs with Cal alone.
    let mut t = Trio::new().await;
    let group = t.group;
    t.cal.offline().await;
    let before = t.ann.heads(group).await;
    ann_removes_bea(&t).await;
    t.ann.offline().await;
    let removal = t.ann.open(group).doc().get_changes(&before);
    let removal_hashes: Vec<ChangeHash> = removal.iter().map(|c| c.hash()).collect();
    t.bea.apply_raw_changes(group, removal).await;
    let forged = t
        .bea
        .raw_edit(group, put_member_field(t.bea_id, "bio", "still here"))
        .await;
    let deps = t
        .bea
        .raw_doc(group, move |doc| {
            doc.get_change_meta_by_hash(&forged)
                .map(|meta| meta.deps.clone())
                .unwrap_or_default()
        })
        .await;
    assert!(
        removal_hashes.iter().all(|h| deps.contains(h)),
        "Bea wrote on top of her removal"
    );

    // Cal could reach Bea's node the moment his starts: restart hers once he listens.
    t.bea.offline().await;
    t.cal.online().await;
    let mut events = t.cal.handle().subscribe();
    let since = Timestamp::now();
    t.bea.online().await;
    t.cal.introduce(&t.bea);
    t.bea.introduce(&t.cal);
    t.refuses(Honest::Cal, &mut events, &[forged], since).await;
    t.bea.offline().await;
    t.honest_edits_flow(Honest::Cal, &[forged]).await;
    for honest in [&t.ann, &t.cal] {
        let bea = honest.model(group).await.members[&t.bea_id].clone();
        assert!(bea.removed_at.is_some() && bea.profile.bio != "still here");
    }
}
