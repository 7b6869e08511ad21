//! What a change writes, and where: each op read as a write of one key into one place of the
//! schema.

use std::collections::HashMap;

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{Automerge, ExpandedChange, ObjType, Prop, ReadDoc, ScalarValue};

use super::place::Place;

/// What an op does to its key.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Makes a new object of this type at the key.
    Make(ObjType),
    /// Puts a scalar at the key.
    Put(ScalarValue),
    /// Deletes the key.
    Delete,
    /// Something the schema never does (counters, marks, list positions).
    Other(&'static str),
}

/// One op, read as a write.
#[derive(Debug, Clone)]
pub struct Write {
    /// The object written into, as `counter@actor` or `_root`.
    pub obj: String,
    /// Where that object sits.
    pub place: Place,
    /// The key written.
    pub key: String,
    /// What is written.
    pub action: Action,
    /// Whether the object written into was made by this same change.
    pub in_new_object: bool,
    /// The id of the object this op makes, if it makes one.
    pub makes: Option<String>,
}

/// Finds where objects sit, remembering what it found: an object never moves.
#[derive(Debug, Default)]
pub struct Locator {
    paths: HashMap<String, Vec<String>>,
}

/// Most object locations remembered; past this the memory starts over.
const MAX_REMEMBERED_OBJECTS: usize = 1_000_000;

/// The id of the document root, as objects are named here.
pub const ROOT_ID: &str = "_root";

impl Locator {
    /// Reads `change`'s ops as writes. Objects are found in `doc` or among the objects the
    /// change itself makes; an op into any other object is refused.
    pub fn writes(
        &mut self,
        doc: &Automerge,
        change: &ExpandedChange,
    ) -> Result<Vec<Write>, String> {
        // Objects this change makes: their parent and key.
        let mut made: HashMap<String, (String, String)> = HashMap::new();
        for (offset, op) in (0u64..).zip(&change.operations) {
            if let OpType::Make(_) = op.action {
                let id = format!(
                    "{}@{}",
                    change.start_op.get().saturating_add(offset),
                    change.actor_id
                );
                let key = match &op.key {
                    Key::Map(k) => k.to_string(),
                    Key::Seq(_) => return Err("it makes an object inside a list".into()),
                };
                made.insert(id, (obj_name(&op.obj), key));
            }
        }
        let mut writes = Vec::with_capacity(change.operations.len());
        for (offset, op) in (0u64..).zip(&change.operations) {
            let obj = obj_name(&op.obj);
            let keys = self.keys_of(doc, &obj, &made)?;
            let key = match &op.key {
                Key::Map(k) => k.to_string(),
                Key::Seq(_) => {
                    return Err(format!("it writes into a list at {}", Place::of(&keys)));
                }
            };
            let action = if op.insert {
                Action::Other("a list insertion")
            } else {
                match &op.action {
                    OpType::Make(t) => Action::Make(*t),
                    OpType::Put(v) => Action::Put(v.clone()),
                    OpType::Delete => Action::Delete,
                    OpType::Increment(_) => Action::Other("a counter increment"),
                    OpType::MarkBegin(_) | OpType::MarkEnd(_) => Action::Other("a text mark"),
                }
            };
            let makes = matches!(action, Action::Make(_)).then(|| {
                format!(
                    "{}@{}",
                    change.start_op.get().saturating_add(offset),
                    change.actor_id
                )
            });
            writes.push(Write {
                in_new_object: made.contains_key(&obj),
                place: Place::of(&keys),
                obj,
                key,
                action,
                makes,
            });
        }
        // Remember where this change's objects sit: a later change may write into them
        // before this one is applied (changes of one message are judged, then applied).
        for id in made.keys() {
            if let Ok(keys) = self.keys_of(doc, id, &made) {
                self.paths.insert(id.clone(), keys);
            }
        }
        if self.paths.len() > MAX_REMEMBERED_OBJECTS {
            self.paths.clear();
        }
        Ok(writes)
    }

    /// The keys from the root to object `obj`.
    fn keys_of(
        &mut self,
        doc: &Automerge,
        obj: &str,
        made: &HashMap<String, (String, String)>,
    ) -> Result<Vec<String>, String> {
        if obj == ROOT_ID {
            return Ok(Vec::new());
        }
        if let Some(keys) = self.paths.get(obj) {
            return Ok(keys.clone());
        }
        // Made by this change: its parent's path and its key. Parents come before children
        // in a change, and a chain is at most as long as the change, so this ends.
        let mut chain = Vec::new();
        let mut at = obj.to_string();
        let base = loop {
            if at == ROOT_ID {
                break Vec::new();
            }
            if let Some(keys) = self.paths.get(&at) {
                break keys.clone();
            }
            match made.get(&at) {
                Some((parent, key)) => {
                    if chain.len() > made.len() {
                        return Err("its objects nest in a cycle".into());
                    }
                    chain.push(key.clone());
                    at = parent.clone();
                }
                None => break self.existing(doc, &at)?,
            }
        };
        let mut keys = base;
        keys.extend(chain.into_iter().rev());
        Ok(keys)
    }

    /// The keys from the root to `obj`, an object `doc` holds.
    fn existing(&mut self, doc: &Automerge, obj: &str) -> Result<Vec<String>, String> {
        let (id, _) = doc
            .import(obj)
            .map_err(|_| format!("it writes into object {obj}, which nobody made"))?;
        let parents = doc
            .parents(&id)
            .map_err(|_| format!("it writes into object {obj}, which nobody made"))?;
        let mut keys = Vec::new();
        for parent in parents {
            match parent.prop {
                Prop::Map(k) => keys.push(k),
                Prop::Seq(_) => return Err(format!("it writes into object {obj} inside a list")),
            }
        }
        keys.reverse();
        self.paths.insert(obj.to_string(), keys.clone());
        Ok(keys)
    }
}

/// `obj` named as objects are named here.
fn obj_name(obj: &ObjectId) -> String {
    match obj {
        ObjectId::Root => ROOT_ID.to_string(),
        ObjectId::Id(id) => id.to_string(),
    }
}
