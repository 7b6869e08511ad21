//! Changing the group's rules.

use std::collections::BTreeMap;

use automerge::Automerge;
use jiff::Timestamp;

use super::{current_member, transact};
use crate::doc;
use crate::error::OpError;
use crate::ids::{MemberId, RuleChangeId};
use crate::model::{RuleChange, Rules};

/// An organizer, `me`, sets the rules named in `values` (key -> value as text) from `now` on,
/// as change `id`. Returns the rules as they now are. Every value is checked first: one bad
/// key or value refuses the whole change.
pub fn change_rules(
    doc: &mut Automerge,
    me: MemberId,
    id: RuleChangeId,
    values: &[(String, String)],
    now: Timestamp,
) -> Result<Rules, OpError> {
    if values.is_empty() {
        return Err(OpError::NoRuleChange);
    }
    let mut checked = BTreeMap::new();
    let mut probe = Rules::default();
    for (key, value) in values {
        let key = key.trim().to_string();
        probe.set(&key, value)?;
        // Stored in the canonical form, so every reader parses the same value.
        let canonical = probe
            .value(&key)
            .unwrap_or_else(|| value.trim().to_string());
        checked.insert(key, canonical);
    }
    let message = format!(
        "rules {}",
        checked
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    transact(doc, message, now, |tx| {
        let member = current_member(tx, me)?;
        if !member.organizer {
            return Err(OpError::NotOrganizer("change the rules"));
        }
        let info = doc::read_info(tx)?;
        let change = RuleChange {
            id,
            at: not_before_the_past(tx, now),
            by: me,
            values: checked,
        };
        doc::put_rule_change(tx, &change)?;
        let mut changes = info.rule_changes;
        changes.push(change);
        Ok(crate::exchange::rules::fold(info.rules, &changes, now))
    })
}

/// `now`, or the time of the latest change the document holds if that is later (another
/// device's clock ahead of ours): the group's rules refuse a rule change that takes effect
/// before anything in its own past.
fn not_before_the_past(tx: &automerge::transaction::Transaction<'_>, now: Timestamp) -> Timestamp {
    use automerge::ReadDoc;
    let latest = tx
        .get_heads()
        .iter()
        .filter_map(|h| tx.get_change_by_hash(h))
        .map(|c| c.timestamp())
        .max()
        .and_then(|s| Timestamp::from_second(s).ok());
    latest.map_or(now, |latest| latest.max(now))
}
