//! What the UI shows of a group, derived once per change on the backend thread.
//!
//! A [`GroupSnapshot`] holds the rows of every list (queue, roster, my ledger, suggestions,
//! activity) as plain values with their display text made once, so drawing a frame formats
//! nothing and reads nothing but the rows on screen. The long texts (pieces, critiques) stay
//! out of it: the one submission on screen comes as a [`SubmissionDetail`].
//!
//! [`derive_snapshot`] makes one from scratch and is the definition of what a snapshot holds;
//! the backend keeps its snapshots current row by row instead ([`super::live_snapshot`]),
//! and its tests check that the two always agree.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use quire_store::exchange::activity::{Activity, Change, activity};
use quire_store::exchange::ledger::{Ledger, ledger};
use quire_store::exchange::reliability::{Interaction, Reliability, interactions, reliability};
use quire_store::exchange::suggest::{Exchanges, Suggestion, best_suggestions};
use quire_store::exchange::{Credits, ledger::others_open, ledger::submission_cost};
use quire_store::inbox::InboxItem;
use quire_store::model::{Group, Member, Role, Rules, Submission};
use quire_store::views::{self, ClaimLine, LinePosition, QueueEntry, QueueKey, Status};
use quire_store::{GroupId, MemberId, SubmissionId};

/// Activity lines kept in a snapshot: the newest.
pub const ACTIVITY_SHOWN: usize = 500;
/// Suggestions kept in a snapshot: the best.
pub const SUGGESTIONS_SHOWN: usize = 25;

/// One row of the queue.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueRow {
    /// The entry as the store derives it.
    pub entry: QueueEntry,
    /// Whether it is my piece.
    pub mine: bool,
    /// My claim on it, if I hold or wait for a slot.
    pub my_claim: Option<LinePosition>,
    /// Whether I critiqued it.
    pub critiqued_by_me: bool,
    /// "2/3": critiques delivered of those wanted.
    pub critiques_text: String,
    /// "open", "1 claimed, 1 open", "critiqued", ...: claims being written, apart from the
    /// critiques already delivered.
    pub status_text: String,
    /// "2026-12-01" or "—".
    pub due_text: String,
    /// Title, author and genre as search compares them ([`super::search::fold`]).
    pub search: String,
}

/// One row of the roster.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRow {
    /// Who.
    pub id: MemberId,
    /// Display name.
    pub name: String,
    /// Pen name or "".
    pub pen_name: String,
    /// Their genres.
    pub genres: BTreeSet<String>,
    /// Genres joined by ", ".
    pub genres_text: String,
    /// Their roles.
    pub roles: BTreeSet<Role>,
    /// Roles joined by ", ".
    pub roles_text: String,
    /// On hiatus until, if on hiatus today.
    pub hiatus_until: Option<Date>,
    /// An organizer.
    pub organizer: bool,
    /// "4/month" or "—".
    pub capacity_text: String,
    /// Critiques given.
    pub given: u32,
    /// Critiques received.
    pub received: u32,
    /// Name, pen name and genres as search compares them ([`super::search::fold`]).
    pub search: String,
}

/// A group as the UI shows it, as of one version of its document.
///
/// The rows of the long lists are shared (`Arc`) between one snapshot and the next, so a
/// snapshot made after a small change copies pointers, not rows.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSnapshot {
    /// The group.
    pub id: GroupId,
    /// Bumps with every change, so the UI knows when to redo its filters.
    pub version: u64,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The member this device belongs to, if any.
    pub me: Option<MemberId>,
    /// My name.
    pub my_name: String,
    /// My profile, for the profile editor.
    pub my_member: Option<Member>,
    /// Whether I am an organizer.
    pub organizer: bool,
    /// The rules in force now.
    pub rules: Rules,
    /// Who changed the rules last, and when.
    pub rules_changed: Option<(Timestamp, String)>,
    /// The queue, in the store's order.
    pub queue: Vec<Arc<QueueRow>>,
    /// Current members, by name.
    pub members: Vec<Arc<MemberRow>>,
    /// Every genre in the roster and the queue, for filters.
    pub genres: Vec<String>,
    /// My ledger.
    pub ledger: Option<Arc<Ledger>>,
    /// What a submission would cost me now.
    pub next_submission_cost: Credits,
    /// What to critique next.
    pub suggestions: Vec<Suggestion>,
    /// Whether I am on hiatus (no suggestions then).
    pub my_hiatus: Option<Date>,
    /// The newest activity, newest first.
    pub activity: Vec<Activity>,
    /// Entries that could not be read.
    pub skipped: Vec<String>,
    /// What needs me ([`quire_store::inbox`]): urgent and unread first.
    pub inbox: Arc<Vec<InboxItem>>,
    /// Whether desktop notifications are on (my personal document's setting).
    pub notifications: bool,
    /// Who joined with each invite I made: the member, and for a device invite the device.
    pub invite_uses: BTreeMap<quire_store::InviteHash, Vec<String>>,
    /// Derived from the view cache while the group's document loads: actions wait for the
    /// document, and run as soon as it is there.
    pub loading: bool,
    /// How long deriving took, for the curious.
    pub derive_ms: f64,
}

impl GroupSnapshot {
    /// How many inbox items wait to be read or are urgent.
    pub fn unread(&self) -> usize {
        quire_store::inbox::unread_count(&self.inbox)
    }
}

/// The submission on screen.
#[derive(Debug, Clone)]
pub struct SubmissionDetail {
    /// The group.
    pub group: GroupId,
    /// The piece with its critiques.
    pub sub: Submission,
    /// Its status now.
    pub status: Status,
    /// Who holds and who waits.
    pub line: ClaimLine,
    /// Names of everyone the page mentions.
    pub names: BTreeMap<MemberId, String>,
    /// Me, if a member.
    pub me: Option<MemberId>,
    /// My place in its line.
    pub my_position: Option<LinePosition>,
    /// Whether it is mine.
    pub mine: bool,
    /// The tip the rules set now.
    pub tip: Credits,
    /// Whether the group counts credits now.
    pub credits: bool,
}

impl SubmissionDetail {
    /// The name of `member`.
    pub fn name(&self, member: MemberId) -> &str {
        self.names.get(&member).map_or("someone", String::as_str)
    }
}

/// The member on screen.
#[derive(Debug, Clone)]
pub struct MemberDetail {
    /// The group.
    pub group: GroupId,
    /// The member.
    pub member: Member,
    /// Their record.
    pub reliability: Reliability,
    /// Critiques between them and me, newest first.
    pub interactions: Vec<Interaction>,
    /// Names of everyone the page mentions.
    pub names: BTreeMap<MemberId, String>,
    /// Whether it is me.
    pub is_me: bool,
}

/// Derives everything the UI shows of `group` at `now`, as `me`. `history` is the document's
/// history, oldest first; only its newest [`ACTIVITY_SHOWN`] changes are described.
pub fn derive_snapshot(
    group: &Group,
    me: Option<MemberId>,
    history: &[Change],
    now: Timestamp,
    version: u64,
) -> GroupSnapshot {
    let started = std::time::Instant::now();
    let today = local_date(now);
    let mut given: BTreeMap<MemberId, u32> = BTreeMap::new();
    let mut received: BTreeMap<MemberId, u32> = BTreeMap::new();
    let mut genres: BTreeSet<String> = BTreeSet::new();
    let mut queue: Vec<(QueueKey, Arc<QueueRow>)> = Vec::with_capacity(group.submissions.len());
    for sub in group.submissions.values() {
        *received.entry(sub.author).or_default() += sub.critiques.len() as u32;
        for c in sub.critiques.values() {
            *given.entry(c.reviewer).or_default() += 1;
        }
        if !genres.contains(&sub.genre) {
            genres.insert(sub.genre.clone());
        }
        let row = queue_row(group, sub, &views::claim_line(sub, now), me);
        queue.push((views::queue_key(&row.entry), Arc::new(row)));
    }
    queue.sort_unstable_by_key(|(key, _)| *key);
    let mut members: Vec<(MemberKey, Arc<MemberRow>)> = group
        .members
        .values()
        .filter(|m| m.is_current())
        .map(|m| {
            genres.extend(m.profile.genres.iter().cloned());
            let row = member_row(m, today, &given, &received);
            (member_key(&row), Arc::new(row))
        })
        .collect();
    members.sort_unstable_by(|a, b| a.0.cmp(&b.0));

    let (ledger, suggestions) = match me {
        Some(me) => {
            let next = best_suggestions(group, &Exchanges::of(group), me, now, SUGGESTIONS_SHOWN);
            (Some(Arc::new(ledger(group, me))), next)
        }
        None => (None, Vec::new()),
    };
    let mut snapshot = header(group, me, now, version);
    snapshot.next_submission_cost = match me {
        Some(me) => submission_cost(
            &snapshot.rules,
            others_open(group, me, now, SubmissionId::from_bytes([0; 16])),
        ),
        None => snapshot.rules.submission_cost,
    };
    let recent = &history[history.len().saturating_sub(ACTIVITY_SHOWN)..];
    snapshot.queue = queue.into_iter().map(|(_, row)| row).collect();
    snapshot.members = members.into_iter().map(|(_, row)| row).collect();
    snapshot.genres = genres.into_iter().collect();
    snapshot.ledger = ledger;
    snapshot.suggestions = suggestions;
    snapshot.activity = activity(group, recent, None);
    snapshot.derive_ms = started.elapsed().as_secs_f64() * 1000.0;
    snapshot
}

/// The date of `now` where the user is: hiatuses end on local days.
pub(super) fn local_date(now: Timestamp) -> Date {
    now.to_zoned(jiff::tz::TimeZone::system()).date()
}

/// A snapshot with the fields that need no pass over the group (who I am, the rules, the
/// names) and the lists empty.
pub(super) fn header(
    group: &Group,
    me: Option<MemberId>,
    now: Timestamp,
    version: u64,
) -> GroupSnapshot {
    let today = local_date(now);
    let rules = group.info.rules_at(now);
    let my_member = me.and_then(|me| group.members.get(&me)).cloned();
    let my_hiatus = my_member
        .as_ref()
        .filter(|m| m.on_hiatus(today))
        .and_then(|m| m.profile.hiatus_until);
    let rules_changed = group
        .info
        .rule_changes
        .iter()
        .rfind(|c| c.at <= now)
        .map(|c| (c.at, group.name_of(c.by)));
    GroupSnapshot {
        id: group.info.id,
        version,
        name: group.info.name.clone(),
        description: group.info.description.clone(),
        me,
        my_name: me.map(|m| group.name_of(m)).unwrap_or_default(),
        organizer: my_member.as_ref().is_some_and(|m| m.organizer),
        my_member,
        next_submission_cost: rules.submission_cost,
        rules,
        rules_changed,
        queue: Vec::new(),
        members: Vec::new(),
        genres: Vec::new(),
        ledger: None,
        suggestions: Vec::new(),
        my_hiatus,
        activity: Vec::new(),
        skipped: group.skipped.iter().map(ToString::to_string).collect(),
        inbox: Arc::default(),
        notifications: true,
        invite_uses: BTreeMap::new(),
        loading: false,
        derive_ms: 0.0,
    }
}

/// Where a row stands in the roster: by name, then id.
pub(super) type MemberKey = (String, MemberId);

/// Where `row` stands in the roster.
pub(super) fn member_key(row: &MemberRow) -> MemberKey {
    (row.name.to_lowercase(), row.id)
}

pub(super) fn member_row(
    m: &Member,
    today: Date,
    given: &BTreeMap<MemberId, u32>,
    received: &BTreeMap<MemberId, u32>,
) -> MemberRow {
    let p = &m.profile;
    let genres_text = p.genres.iter().cloned().collect::<Vec<_>>().join(", ");
    let roles_text = p
        .roles
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let pen_name = p.pen_name.clone().unwrap_or_default();
    MemberRow {
        id: m.id,
        search: super::search::fold(&format!("{} {} {}", p.display_name, pen_name, genres_text)),
        name: p.display_name.clone(),
        pen_name,
        genres: p.genres.clone(),
        genres_text,
        roles: p.roles.clone(),
        roles_text,
        hiatus_until: p.hiatus_until.filter(|_| m.on_hiatus(today)),
        organizer: m.organizer,
        capacity_text: p
            .capacity_per_month
            .map_or_else(|| "—".to_string(), |c| format!("{c}/month")),
        given: given.get(&m.id).copied().unwrap_or(0),
        received: received.get(&m.id).copied().unwrap_or(0),
    }
}

/// Where a piece stands, with the claims still being written told apart from the critiques
/// delivered (which its critiques column counts).
fn status_text(entry: &views::QueueEntry) -> String {
    match entry.status {
        Status::Claimed { taken, wanted } => {
            let writing = taken.saturating_sub(entry.critiques);
            match (writing, wanted.saturating_sub(taken)) {
                (0, _) => "open".to_string(),
                (w, 0) => format!("{w} claimed, none open"),
                (w, open) => format!("{w} claimed, {open} open"),
            }
        }
        ref other => other.to_string(),
    }
}

/// The queue row of `sub`, whose claim line is `line`, as `me` sees it.
pub(super) fn queue_row(
    group: &Group,
    sub: &Submission,
    line: &ClaimLine,
    me: Option<MemberId>,
) -> QueueRow {
    let entry = views::queue_entry(group, sub, line);
    let (my_claim, critiqued_by_me) = match me {
        Some(me) => (line.position_of(me), sub.critique_by(me).is_some()),
        None => (None, false),
    };
    QueueRow {
        mine: Some(entry.author) == me,
        my_claim,
        critiqued_by_me,
        critiques_text: format!("{}/{}", entry.critiques, sub.critiques_wanted),
        status_text: status_text(&entry),
        due_text: entry
            .due_at
            .map_or_else(|| "—".to_string(), |d| d.to_string()),
        search: super::search::fold(&format!(
            "{} {} {}",
            entry.title, entry.author_name, entry.genre
        )),
        entry,
    }
}

/// The detail of submission `id`, if the group has it.
pub fn submission_detail(
    group: &Group,
    id: SubmissionId,
    me: Option<MemberId>,
    now: Timestamp,
) -> Option<SubmissionDetail> {
    let sub = group.submissions.get(&id)?;
    let line = views::claim_line(sub, now);
    let mut names = BTreeMap::new();
    let people = std::iter::once(sub.author)
        .chain(sub.claims.keys().copied())
        .chain(sub.critiques.values().map(|c| c.reviewer));
    for m in people {
        names.insert(m, group.name_of(m));
    }
    let rules = group.info.rules_at(now);
    Some(SubmissionDetail {
        group: group.info.id,
        status: views::status(sub, now),
        my_position: me.and_then(|me| line.position_of(me)),
        line,
        names,
        me,
        mine: Some(sub.author) == me,
        tip: rules.tip,
        credits: rules.credits,
        sub: sub.clone(),
    })
}

/// The detail of member `id`, if the group has them.
pub fn member_detail(
    group: &Group,
    id: MemberId,
    me: Option<MemberId>,
    now: Timestamp,
) -> Option<MemberDetail> {
    let member = group.members.get(&id)?.clone();
    let mut between = match me {
        Some(me) if me != id => interactions(group, me, id),
        _ => Vec::new(),
    };
    between.sort_by_key(|i| std::cmp::Reverse(i.at));
    let mut names = BTreeMap::new();
    for i in &between {
        names.insert(i.reviewer, group.name_of(i.reviewer));
        names.insert(i.author, group.name_of(i.author));
    }
    Some(MemberDetail {
        group: group.info.id,
        reliability: reliability(group, id, now),
        interactions: between,
        names,
        is_me: Some(id) == me,
        member,
    })
}

#[cfg(test)]
mod tests {
    use quire_store::{MemberId, SubmissionId};

    use super::*;

    fn entry(critiques: u32, status: Status) -> QueueEntry {
        QueueEntry {
            id: SubmissionId::from_bytes([1; 16]),
            title: "The Mill".into(),
            author: MemberId::from_bytes([2; 16]),
            author_name: "Ann".into(),
            genre: "historical".into(),
            word_count: 1200,
            due_at: None,
            submitted_at: jiff::Timestamp::UNIX_EPOCH,
            critiques,
            status,
        }
    }

    #[test]
    fn claims_being_written_are_told_apart_from_critiques_delivered() {
        let claimed =
            |critiques, taken| status_text(&entry(critiques, Status::Claimed { taken, wanted: 3 }));
        // Two critiques in and nobody writing: the third slot is open.
        assert_eq!(claimed(2, 2), "open");
        assert_eq!(claimed(1, 2), "1 claimed, 1 open");
        assert_eq!(claimed(1, 3), "2 claimed, none open");
        assert_eq!(claimed(0, 1), "1 claimed, 2 open");
        assert_eq!(status_text(&entry(3, Status::Critiqued)), "critiqued");
        assert_eq!(status_text(&entry(0, Status::Open)), "open");
    }
}
