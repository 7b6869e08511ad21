//! Whether a change writes only into its own past: each op writes into an object made in the
//! change's past (or earlier in the change) and overwrites only ops at its own object and key
//! in that past.
//!
//! Automerge trusts a change's ops to name their predecessors (`pred`) truly; it does not
//! check them. A change naming as predecessor an op that is not at its key (or not in its
//! past) is taken in, and from then on automerge can no longer rebuild it: `get_changes`
//! fails, a new member's sync fails, and `save()` writes a snapshot that does not load. One
//! signed change from any member would poison every device it reached. An op into an object
//! its past does not hold is the same kind of fault in milder form: whether a device has that
//! object depends on what else it happens to hold, so devices would judge the change
//! differently. Both are refused here, judged only by the change and its past, so every honest
//! device reaches the same verdict in any arrival order.
//!
//! Changes of one message are judged in causal order and applied together, so a change's past
//! may hold changes judged but not applied yet: their ops are kept in [`Pending`] until the
//! authority is told they are applied (or dropped). A peer's session may judge a long chain
//! over several turns before applying it, so each judge keeps its own.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use automerge::legacy::{OpId, OpType};
use automerge::{Automerge, ChangeHash, ExpandedChange, ReadDoc};

use super::inspect::{ROOT_ID, Write};

/// Ops of changes judged and accepted but maybe not applied to the document yet.
#[derive(Debug, Default)]
pub struct Pending {
    changes: HashMap<ChangeHash, PendingChange>,
    ops: HashMap<String, PendingOp>,
    /// `(change, earlier)` pairs known to hold `earlier` in `change`'s past.
    reach: HashSet<(ChangeHash, ChangeHash)>,
}

#[derive(Debug)]
struct PendingChange {
    deps: Vec<ChangeHash>,
    /// The changes in the document that its past reaches first (sorted).
    base: Arc<Vec<ChangeHash>>,
}

#[derive(Debug)]
struct PendingOp {
    obj: String,
    key: String,
    change: ChangeHash,
    /// A delete leaves nothing to overwrite.
    deletes: bool,
    makes: bool,
}

/// What a check of a change's past found, kept if the change is accepted.
#[derive(Debug)]
pub struct Checked {
    base: Arc<Vec<ChangeHash>>,
    reached: Vec<ChangeHash>,
}

impl Pending {
    /// Checks that each op of `change` (read as `writes`, one per op) writes into an object
    /// of its past and overwrites only ops at its own object and key in its past. Every
    /// dependency of `change` must be in `doc` or pending.
    pub fn check(
        &mut self,
        doc: &Automerge,
        change: &ExpandedChange,
        writes: &[Write],
    ) -> Result<Checked, String> {
        let base = self.base_of(doc, &change.deps)?;
        let mut reached = Vec::new();
        // What each (object, key) of the document holds at the base, as op ids.
        let mut at_base: HashMap<(String, String), HashSet<String>> = HashMap::new();
        // Objects of the document found standing at the base.
        let mut stood: HashSet<String> = HashSet::new();
        let start = change.start_op.get();
        let own = |id: &OpId| -> Option<usize> {
            (id.actor() == &change.actor_id)
                .then(|| id.counter().checked_sub(start))
                .flatten()
                .and_then(|i| usize::try_from(i).ok())
        };
        for (i, (op, write)) in change.operations.iter().zip(writes).enumerate() {
            // The object: the root, made earlier in this change, or made in the past.
            if write.obj != ROOT_ID {
                let id: OpId = write
                    .obj
                    .parse()
                    .map_err(|_| format!("it names object {}, which is no op id", write.obj))?;
                match own(&id) {
                    Some(j) => {
                        let made = j < i
                            && matches!(change.operations[j].action, OpType::Make(_))
                            && !change.operations[j].insert;
                        if !made {
                            return Err(format!(
                                "op {} writes into {}, which this change does not make before it",
                                i + 1,
                                write.obj
                            ));
                        }
                    }
                    None => match self.ops.get(&write.obj) {
                        Some(p) => {
                            if !p.makes || !self.in_past(&change.deps, p.change) {
                                return Err(not_in_past(i, "object", &write.obj));
                            }
                            reached.push(p.change);
                        }
                        None => {
                            if !stood.contains(&write.obj) {
                                if !object_at(doc, &write.obj, &base) {
                                    return Err(not_in_past(i, "object", &write.obj));
                                }
                                stood.insert(write.obj.clone());
                            }
                        }
                    },
                }
            }
            // The ops it overwrites: each at its object and key, in its past, not a delete.
            let mut last: Option<&OpId> = None;
            for pred in op.pred.iter() {
                if last == Some(pred) {
                    return Err(format!("op {} names predecessor {pred} twice", i + 1));
                }
                last = Some(pred);
                let name = pred.to_string();
                let wrong = || {
                    format!(
                        "op {} names {name} as the value it overwrites at {}, which is not there in its past",
                        i + 1,
                        write.key
                    )
                };
                if let Some(j) = own(pred) {
                    let there = j < i
                        && writes[j].obj == write.obj
                        && writes[j].key == write.key
                        && !matches!(change.operations[j].action, OpType::Delete);
                    if !there {
                        return Err(wrong());
                    }
                } else if let Some(p) = self.ops.get(&name) {
                    if p.obj != write.obj || p.key != write.key || p.deletes {
                        return Err(wrong());
                    }
                    if !self.in_past(&change.deps, p.change) {
                        return Err(wrong());
                    }
                    reached.push(p.change);
                } else {
                    let held = at_base
                        .entry((write.obj.clone(), write.key.clone()))
                        .or_insert_with(|| held_at(doc, &write.obj, &write.key, &base));
                    if !held.contains(&name) {
                        return Err(wrong());
                    }
                }
            }
        }
        Ok(Checked { base, reached })
    }

    /// Keeps an accepted change's ops (read as `writes`, one per op, as [`Pending::check`]
    /// took them) until its authority is told it is in the document.
    pub fn record(
        &mut self,
        hash: ChangeHash,
        change: &ExpandedChange,
        writes: &[Write],
        checked: Checked,
    ) {
        let start = change.start_op.get();
        for ((offset, op), write) in (0u64..).zip(&change.operations).zip(writes) {
            let id = format!("{}@{}", start.saturating_add(offset), change.actor_id);
            self.ops.insert(
                id,
                PendingOp {
                    obj: write.obj.clone(),
                    key: write.key.clone(),
                    change: hash,
                    deletes: matches!(op.action, OpType::Delete),
                    makes: matches!(op.action, OpType::Make(_)),
                },
            );
        }
        for earlier in checked.reached {
            self.reach.insert((hash, earlier));
        }
        self.changes.insert(
            hash,
            PendingChange {
                deps: change.deps.clone(),
                base: checked.base,
            },
        );
    }

    /// The document's changes that `deps`' past reaches first, walking back through pending
    /// changes (sorted, without repeats).
    fn base_of(
        &self,
        doc: &Automerge,
        deps: &[ChangeHash],
    ) -> Result<Arc<Vec<ChangeHash>>, String> {
        if let [dep] = deps
            && let Some(p) = self.changes.get(dep)
        {
            return Ok(p.base.clone());
        }
        let mut base = Vec::new();
        for dep in deps {
            match self.changes.get(dep) {
                Some(p) => base.extend(p.base.iter().copied()),
                None if doc.get_change_meta_by_hash(dep).is_some() => base.push(*dep),
                None => return Err(format!("it depends on {dep}, which we lack")),
            }
        }
        base.sort();
        base.dedup();
        Ok(Arc::new(base))
    }

    /// Whether pending change `earlier` is in the past of a change with `deps`.
    fn in_past(&self, deps: &[ChangeHash], earlier: ChangeHash) -> bool {
        let mut stack: Vec<ChangeHash> = deps.to_vec();
        let mut seen: HashSet<ChangeHash> = HashSet::new();
        while let Some(at) = stack.pop() {
            if at == earlier || self.reach.contains(&(at, earlier)) {
                return true;
            }
            if !seen.insert(at) {
                continue;
            }
            if let Some(p) = self.changes.get(&at) {
                stack.extend(p.deps.iter().copied());
            }
        }
        false
    }
}

fn not_in_past(i: usize, what: &str, obj: &str) -> String {
    format!(
        "op {} writes into {what} {obj}, which its past does not hold",
        i + 1
    )
}

/// Whether object `obj` of `doc` was made in the past of `heads` and still stood there
/// (automerge reads the present without a clock when `heads` are the document's).
fn object_at(doc: &Automerge, obj: &str, heads: &[ChangeHash]) -> bool {
    let Ok((id, _)) = doc.import(obj) else {
        return false;
    };
    doc.parents_at(&id, heads)
        .ok()
        .and_then(|mut parents| parents.next())
        .is_some_and(|parent| parent.visible)
}

/// The op ids `doc` holds at `obj`'s `key` as of `heads`.
fn held_at(doc: &Automerge, obj: &str, key: &str, heads: &[ChangeHash]) -> HashSet<String> {
    let id = if obj == ROOT_ID {
        automerge::ROOT
    } else {
        match doc.import(obj) {
            Ok((id, _)) => id,
            Err(_) => return HashSet::new(),
        }
    };
    doc.get_all_at(&id, key, heads)
        .unwrap_or_default()
        .into_iter()
        .map(|(_, id)| id.to_string())
        .collect()
}
