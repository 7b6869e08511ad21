//! The large group every scale figure is measured on: members who submit in turn, each piece
//! critiqued by the members after its author. Built directly as the model, and written into an
//! automerge document in one change when a figure needs the document.

use std::collections::BTreeMap;

use automerge::Automerge;
use jiff::{SignedDuration, Timestamp};
use quire_store::ids::{CritiqueId, RuleChangeId};
use quire_store::model::{
    Claim, Critique, Group, GroupInfo, Member, Profile, RuleChange, Rules, Submission,
};
use quire_store::{DeviceId, GroupId, MemberId, SubmissionId, doc};

/// Critiques per submission in the large group (of 12 wanted, so two slots stay open).
pub const PER_SUBMISSION: usize = 10;

fn id16(kind: u8, i: usize) -> [u8; 16] {
    let mut b = [0u8; 16];
    b[0] = kind;
    b[8..].copy_from_slice(&(i as u64).to_be_bytes());
    b
}

/// A busy group: every member submits in turn; each piece has ten critiques from the ten
/// members after its author, each with its claim, some rated, some tipped.
pub fn big_group(members: usize, submissions: usize, now: Timestamp) -> Group {
    let start = now - SignedDuration::from_hours(24 * 365);
    let genres = ["ya", "horror", "poetry", "literary", "romance"];
    let member_ids: Vec<MemberId> = (0..members)
        .map(|i| MemberId::from_bytes(id16(1, i)))
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
            let device = DeviceId::from_bytes([(i % 250) as u8; 32]);
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

/// Makes `device` the only device of the group's founder, so that a benchmark's own device
/// may act (edit, invite) as that member. Returns the founder.
pub fn founder_on(group: &mut Group, device: DeviceId) -> MemberId {
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

/// Submissions written per change by [`to_document`].
pub const SUBMISSIONS_PER_CHANGE: usize = 100;

/// The same group written into an automerge document: the group and its members in one change,
/// then [`SUBMISSIONS_PER_CHANGE`] submissions (with their claims and critiques) per change, so
/// that no change is larger than a sync frame can carry (a real group's history is many small
/// changes).
pub fn to_document(group: &Group) -> anyhow::Result<Automerge> {
    let founder = &group.members[&group.info.created_by];
    let mut document = Automerge::new();
    let mut tx = document.transaction();
    doc::write_new_group(&mut tx, &group.info, founder)?;
    for m in group.members.values() {
        doc::put_member(&mut tx, m)?;
    }
    for c in &group.info.rule_changes {
        doc::put_rule_change(&mut tx, c)?;
    }
    tx.commit();
    let submissions: Vec<_> = group.submissions.values().collect();
    for batch in submissions.chunks(SUBMISSIONS_PER_CHANGE) {
        let mut tx = document.transaction();
        for s in batch {
            doc::put_submission(&mut tx, s)?;
        }
        tx.commit();
    }
    Ok(document)
}
