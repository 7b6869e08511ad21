//! The large group every scale figure is measured on: members who submit in turn, each piece
//! critiqued by the members after its author. Built directly as the model, and written into an
//! automerge document as a history the group's rules accept when a figure needs the document:
//! every member has a real device key, and every change is written and signed by the device of
//! the member it belongs to.

use std::collections::{BTreeMap, HashMap};

use anyhow::{Context, bail};
use automerge::{ActorId, Automerge, ChangeHash};
use iroh_base::SecretKey;
use jiff::{SignedDuration, Timestamp};
use quire_store::doc::CritiqueMark;
use quire_store::ids::{CritiqueId, RuleChangeId};
use quire_store::model::{
    Claim, Critique, Group, GroupInfo, Member, Profile, RuleChange, Rules, Submission,
};
use quire_store::signatures::{ChangeSignature, SignatureBook};
use quire_store::{DeviceId, GroupId, MemberId, SubmissionId, doc};

/// Critiques per submission in the large group (of 12 wanted, so two slots stay open).
pub const PER_SUBMISSION: usize = 10;

/// The kind byte of member ids in [`big_group`].
const MEMBER_KIND: u8 = 1;

fn id16(kind: u8, i: usize) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = kind;
    b[8..].copy_from_slice(&(i as u64).to_be_bytes());
    b
}

/// The secret key of member `i`'s device in [`big_group`]: fixed, so every run writes the
/// same history.
pub fn member_secret(i: usize) -> SecretKey {
    let mut seed = [0u8; 32];
    seed[..16].copy_from_slice(b"quire-bench-key:");
    seed[24..].copy_from_slice(&(i as u64).to_be_bytes());
    SecretKey::from_bytes(&seed)
}

/// The device id of a secret key: its public key.
pub fn device_of(secret: &SecretKey) -> DeviceId {
    DeviceId::from_bytes(*secret.public().as_bytes())
}

/// The index [`big_group`] gave `member`, if it is one of its members.
fn member_index(member: MemberId) -> Option<usize> {
    let b = member.as_bytes();
    (b[0] == MEMBER_KIND && b[1..8] == [0; 7])
        .then(|| u64::from_be_bytes(b[8..].try_into().expect("8 bytes")))
        .and_then(|i| usize::try_from(i).ok())
}

/// A busy group: every member submits in turn; each piece has ten critiques from the ten
/// members after its author, each with its claim, some rated, some tipped. Member `i`'s one
/// device is [`member_secret`]`(i)`'s; member 0 founded the group and is its organizer.
pub fn big_group(members: usize, submissions: usize, now: Timestamp) -> Group {
    let start = now - SignedDuration::from_hours(24 * 365);
    let genres = ["ya", "horror", "poetry", "literary", "romance"];
    let member_ids: Vec<MemberId> = (0..members)
        .map(|i| MemberId::from_bytes(id16(MEMBER_KIND, i)))
        .collect();
    let members_map: BTreeMap<MemberId, Member> = member_ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut profile = Profile {
                display_name: format!("Member {i}"),
                ..Profile::default()
            };
            profile.genres.insert(genres[i % genres.len()].to_string());
            let device = device_of(&member_secret(i));
            let member = Member {
                id: *id,
                profile,
                organizer: i == 0,
                joined_at: start,
                removed_at: None,
                devices: [(
                    device,
                    quire_store::model::Device {
                        label: "laptop".into(),
                        added_at: start,
                    },
                )]
                .into_iter()
                .collect(),
            };
            (*id, member)
        })
        .collect();
    let step = SignedDuration::from_secs(24 * 365 * 3600 / submissions.max(1) as i64);
    let mut subs = BTreeMap::new();
    let mut critique_n = 0;
    for s in 0..submissions {
        let id = SubmissionId::from_bytes(id16(2, s));
        let author = s % members;
        let at = start + step * s as i32;
        let mut claims = BTreeMap::new();
        let mut critiques = BTreeMap::new();
        for k in 1..=PER_SUBMISSION {
            let reviewer = member_ids[(author + k) % members];
            let claimed = at + SignedDuration::from_mins(k as i64);
            claims.insert(
                reviewer,
                Claim {
                    at: claimed,
                    expires_at: claimed + SignedDuration::from_hours(24 * 7),
                    released_at: None,
                },
            );
            let cid = CritiqueId::from_bytes(id16(3, critique_n));
            critique_n += 1;
            critiques.insert(
                cid,
                Critique {
                    id: cid,
                    reviewer,
                    body: "A careful critique.".into(),
                    word_count: (100 + (critique_n * 37) % 1200) as u32,
                    delivered_at: claimed + SignedDuration::from_hours(24),
                    rating: (critique_n % 3 == 0).then_some((critique_n % 5) as u8 + 1),
                    thanked_at: None,
                    tipped_at: (critique_n % 7 == 0)
                        .then_some(claimed + SignedDuration::from_hours(48)),
                },
            );
        }
        subs.insert(
            id,
            Submission {
                id,
                author: member_ids[author],
                title: format!("Piece {s}"),
                genre: genres[s % genres.len()].to_string(),
                word_count: 2_000,
                text: "The mill wheel turned all night.".into(),
                feedback_wanted: String::new(),
                content_notes: String::new(),
                submitted_at: at,
                due_at: None,
                critiques_wanted: 12,
                withdrawn_at: None,
                claims,
                critiques,
            },
        );
    }
    let info = GroupInfo {
        id: GroupId::from_bytes([9; 16]),
        name: "Bench Writers".into(),
        description: String::new(),
        created_at: start,
        created_by: member_ids[0],
        rules: Rules::default(),
        rule_changes: (0..4)
            .map(|i| RuleChange {
                id: RuleChangeId::from_bytes(id16(4, i)),
                at: start + SignedDuration::from_hours(24 * 90 * (i as i64 + 1)),
                by: member_ids[0],
                values: [("tip".to_string(), ["2", "1", "0.5", "1"][i].to_string())]
                    .into_iter()
                    .collect(),
            })
            .collect(),
    };
    Group {
        info,
        members: members_map,
        submissions: subs,
        skipped: Vec::new(),
    }
}

/// Makes the device of `secret` the only device of the group's founder, so that a benchmark's
/// own device may act (edit, invite) as that member. Returns the founder.
pub fn founder_on(group: &mut Group, secret: &SecretKey) -> MemberId {
    let device = device_of(secret);
    let founder = group.info.created_by;
    let member = group
        .members
        .get_mut(&founder)
        .expect("big_group's founder is a member");
    let record = member
        .devices
        .values()
        .next()
        .cloned()
        .expect("big_group gives every member a device");
    member.devices = [(device, record)].into_iter().collect();
    founder
}

/// "1000 members, 10000 submissions, 100000 critiques": the size of `group`, as the
/// benchmark's workload column names it.
pub fn size_of(group: &Group) -> String {
    let critiques: usize = group.submissions.values().map(|s| s.critiques.len()).sum();
    format!(
        "{} members, {} submissions, {critiques} critiques",
        group.members.len(),
        group.submissions.len()
    )
}

/// Entries of one kind written per change by [`to_document`]: a member's submissions, the
/// critiques they wrote (each with its claim), or their marks on critiques of their pieces.
pub const PER_CHANGE: usize = 100;

/// A group's document and the signatures that vouch for every change in it.
#[derive(Debug)]
pub struct Signed {
    /// The document.
    pub doc: Automerge,
    /// One signature per actor, over its newest change.
    pub book: SignatureBook,
}

/// The actor every change of `device` is written as here: its key and a fixed suffix (a real
/// device adds random bytes per session; fixed, the document is the same on every run).
fn actor_of(device: DeviceId) -> ActorId {
    let mut bytes = device.as_bytes().to_vec();
    bytes.extend_from_slice(b"workload");
    ActorId::from(bytes)
}

/// Who writes the document: each member's actor and key, and the newest change of each.
struct Writers {
    keys: HashMap<MemberId, (ActorId, SecretKey)>,
    newest: HashMap<ActorId, ChangeSignature>,
}

impl Writers {
    /// The writers of `group`: `founder` for its founder (whose device it must be), and
    /// [`member_secret`] of their index for every other member, whose device it must be.
    fn of(group: &Group, founder: &SecretKey) -> anyhow::Result<Writers> {
        let mut keys = HashMap::new();
        for member in group.members.values() {
            let secret = if member.id == group.info.created_by {
                founder.clone()
            } else {
                let i = member_index(member.id)
                    .with_context(|| format!("member {} is not big_group's", member.id))?;
                member_secret(i)
            };
            let device = device_of(&secret);
            if !member.devices.contains_key(&device) {
                bail!(
                    "member {} does not hold device {}, whose key was given",
                    member.id.short(),
                    device.short()
                );
            }
            keys.insert(member.id, (actor_of(device), secret));
        }
        Ok(Writers {
            keys,
            newest: HashMap::new(),
        })
    }

    /// Runs `write` in one change by `member`'s device.
    fn change(
        &mut self,
        document: &mut Automerge,
        member: MemberId,
        write: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let (actor, _) = self
            .keys
            .get(&member)
            .with_context(|| format!("no key for member {}", member.short()))?;
        document.set_actor(actor.clone());
        let mut tx = document.transaction();
        write(&mut tx)?;
        let (hash, _) = tx.commit();
        let hash: ChangeHash = hash.context("a workload change wrote nothing")?;
        let seq = self.newest.get(actor).map_or(1, |s| s.seq + 1);
        self.newest.insert(
            actor.clone(),
            ChangeSignature {
                hash,
                seq,
                signature: [0; 64],
            },
        );
        Ok(())
    }

    /// Each actor's signature over its newest change.
    fn sign(self) -> SignatureBook {
        let mut book = SignatureBook::new();
        for (actor, secret) in self.keys.into_values() {
            if let Some(newest) = self.newest.get(&actor) {
                let signature = quire_sync::signing::sign_change(&secret, &newest.hash);
                book.record(
                    actor,
                    ChangeSignature {
                        signature,
                        ..*newest
                    },
                );
            }
        }
        book
    }
}

/// The same group written into an automerge document as its members would have written it,
/// and signed: the founding change by `founder` (the founder's device key) holds the group,
/// its rule changes and every member with their device; then each member's submissions,
/// [`PER_CHANGE`] to a change, by that member's device; each member's critiques, each with its
/// claim, by theirs; and each author's ratings, thanks and tips on the critiques of their
/// pieces, by theirs. Every other member's device must be [`member_secret`] of their index.
///
/// No change is larger than a sync frame can carry, and every change passes the group's
/// rules at its own past, as a real group's history does.
pub fn to_document(group: &Group, founder: &SecretKey) -> anyhow::Result<Signed> {
    let mut writers = Writers::of(group, founder)?;
    let mut document = Automerge::new();
    let first = &group.members[&group.info.created_by];
    writers.change(&mut document, first.id, |tx| {
        doc::write_new_group(tx, &group.info, first)?;
        for m in group.members.values().filter(|m| m.id != first.id) {
            doc::put_member(tx, m)?;
        }
        for c in &group.info.rule_changes {
            doc::put_rule_change(tx, c)?;
        }
        Ok(())
    })?;

    // Who wrote what: submissions by author, claims and critiques by reviewer, marks by the
    // author of the piece.
    let mut submissions: BTreeMap<MemberId, Vec<&Submission>> = BTreeMap::new();
    let mut reviews: BTreeMap<MemberId, Vec<Review<'_>>> = BTreeMap::new();
    let mut marks: BTreeMap<MemberId, Vec<(SubmissionId, CritiqueId, CritiqueMark)>> =
        BTreeMap::new();
    for s in group.submissions.values() {
        submissions.entry(s.author).or_default().push(s);
        for (reviewer, claim) in &s.claims {
            reviews
                .entry(*reviewer)
                .or_default()
                .push(Review::Claim(s.id, *reviewer, claim));
        }
        for c in s.critiques.values() {
            reviews
                .entry(c.reviewer)
                .or_default()
                .push(Review::Critique(s.id, c));
            let by_author = marks.entry(s.author).or_default();
            if let Some(r) = c.rating {
                by_author.push((s.id, c.id, CritiqueMark::Rated(r)));
            }
            if let Some(at) = c.thanked_at {
                by_author.push((s.id, c.id, CritiqueMark::Thanked(at)));
            }
            if let Some(at) = c.tipped_at {
                by_author.push((s.id, c.id, CritiqueMark::Tipped(at)));
            }
        }
    }
    for (author, subs) in &submissions {
        for batch in subs.chunks(PER_CHANGE) {
            writers.change(&mut document, *author, |tx| {
                for s in batch {
                    // Claims and critiques are their writers' to make.
                    let bare = Submission {
                        claims: BTreeMap::new(),
                        critiques: BTreeMap::new(),
                        ..(*s).clone()
                    };
                    doc::put_submission(tx, &bare)?;
                }
                Ok(())
            })?;
        }
    }
    for (reviewer, items) in &reviews {
        for batch in items.chunks(2 * PER_CHANGE) {
            writers.change(&mut document, *reviewer, |tx| {
                for item in batch {
                    match item {
                        Review::Claim(s, m, claim) => doc::put_claim(tx, *s, *m, claim)?,
                        Review::Critique(s, c) => {
                            // Ratings, thanks and tips are the author's to give.
                            let bare = Critique {
                                rating: None,
                                thanked_at: None,
                                tipped_at: None,
                                ..(*c).clone()
                            };
                            doc::put_critique(tx, *s, &bare)?;
                        }
                    }
                }
                Ok(())
            })?;
        }
    }
    for (author, items) in &marks {
        for batch in items.chunks(PER_CHANGE) {
            writers.change(&mut document, *author, |tx| {
                for (s, c, mark) in batch {
                    doc::mark_critique(tx, *s, *c, *mark)?;
                }
                Ok(())
            })?;
        }
    }
    let book = writers.sign();
    Ok(Signed {
        doc: document,
        book,
    })
}

/// A claim or a critique, written by its reviewer.
enum Review<'a> {
    Claim(SubmissionId, MemberId, &'a Claim),
    Critique(SubmissionId, &'a Critique),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> (Group, Signed) {
        let now = Timestamp::from_second(1_800_000_000).expect("a valid time");
        let group = big_group(20, 40, now);
        let signed = to_document(&group, &member_secret(0)).expect("the workload is written");
        (group, signed)
    }

    #[test]
    fn the_workload_is_a_history_the_rules_accept_and_its_signatures_vouch_for() {
        let (group, signed) = small();
        let verified = quire_sync::verify::verify_history(&signed.doc, &signed.book)
            .expect("every change signed by its member's device and allowed by the rules");
        assert_eq!(verified.len(), 20, "one actor per member");
        let read = doc::read_group(&signed.doc).expect("the document reads back");
        assert_eq!(read.members, group.members);
        assert_eq!(read.submissions, group.submissions);
        assert_eq!(read.info.rule_changes, group.info.rule_changes);
    }

    #[test]
    fn a_missing_signature_or_another_founder_is_refused() {
        let (group, signed) = small();
        let mut partial = SignatureBook::new();
        for (actor, sig) in signed.book.iter().skip(1) {
            partial.record(actor.clone(), *sig);
        }
        let err = quire_sync::verify::verify_history(&signed.doc, &partial).unwrap_err();
        assert!(err.contains("not signed"), "{err}");
        // A key that is not the founder's device cannot write the founding change.
        assert!(to_document(&group, &member_secret(1)).is_err());
    }

    #[test]
    fn the_founder_can_be_moved_to_another_device() {
        let now = Timestamp::from_second(1_800_000_000).expect("a valid time");
        let mut group = big_group(12, 12, now);
        let mine = SecretKey::from_bytes(&[7; 32]);
        let founder = founder_on(&mut group, &mine);
        let signed = to_document(&group, &mine).expect("written");
        quire_sync::verify::verify_history(&signed.doc, &signed.book).expect("valid");
        assert_eq!(
            doc::current_member_of_device(&signed.doc, device_of(&mine)),
            Some(founder)
        );
    }
}
