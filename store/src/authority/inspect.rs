//! What a change writes, and where: each op read as a write of one key into one place of the
//! schema.

use std::collections::HashMap;
use std::sync::Arc;

use automerge::legacy::{Key, ObjectId, OpId, OpType};
use automerge::{ActorId, Automerge, ExpandedChange, ObjType, Prop, ReadDoc, ScalarValue};

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
///
/// Judging a history in causal order from its founding change, every object is made by a
/// change judged before any change writes into it, so its place is known from that change
/// and the document is never asked (automerge's `parents()` walks the op set, and costs more
/// the larger the document).
#[derive(Debug, Default)]
pub struct Locator {
    /// Where each object found sits, by its counter and the index of its actor in `actors`.
    paths: HashMap<(u64, usize), Arc<Located>>,
    /// The actors of the objects in `paths`.
    actors: HashMap<ActorId, usize>,
}

/// Where one object sits: its parent's place and its key there. An object made under another
/// shares that one's location, so a history's tens of thousands of objects cost a few small
/// allocations each.
#[derive(Debug)]
struct Located {
    /// The object it sits in; `None` for the root.
    parent: Option<Arc<Located>>,
    /// Its key in that object.
    key: String,
    /// Its place in the schema, read from the keys from the root to it.
    place: Place,
}

impl Located {
    fn root() -> Arc<Located> {
        Arc::new(Located {
            parent: None,
            key: String::new(),
            place: Place::Root,
        })
    }

    /// The object at `key` of `parent`.
    fn child(parent: &Arc<Located>, key: String) -> Arc<Located> {
        let mut keys = parent.keys();
        keys.push(key);
        let place = Place::of(&keys);
        let key = keys.pop().unwrap_or_default();
        Arc::new(Located {
            parent: Some(parent.clone()),
            key,
            place,
        })
    }

    /// The keys from the root to it.
    fn keys(&self) -> Vec<String> {
        let mut keys = Vec::new();
        let mut at = self;
        while let Some(parent) = &at.parent {
            keys.push(at.key.clone());
            at = parent;
        }
        keys.reverse();
        keys
    }
}

/// Most object locations remembered; past this the memory starts over.
const MAX_REMEMBERED_OBJECTS: usize = 1_000_000;

/// The id of the document root, as objects are named here.
pub const ROOT_ID: &str = "_root";

/// The objects one change makes: each one's parent and key.
type Made = HashMap<ObjectId, (ObjectId, String)>;

impl Locator {
    /// Reads `change`'s ops as writes. Objects are found in `doc` or among the objects the
    /// change itself makes; an op into any other object is refused.
    pub fn writes(
        &mut self,
        doc: &Automerge,
        change: &ExpandedChange,
    ) -> Result<Vec<Write>, String> {
        let made_by = |offset: u64| {
            ObjectId::Id(OpId(
                change.start_op.get().saturating_add(offset),
                change.actor_id.clone(),
            ))
        };
        // Objects this change makes: their parent and key.
        let mut made: Made = HashMap::new();
        for (offset, op) in (0u64..).zip(&change.operations) {
            if let OpType::Make(_) = op.action {
                let key = match &op.key {
                    Key::Map(k) => String::from(k.as_str()),
                    Key::Seq(_) => return Err("it makes an object inside a list".into()),
                };
                made.insert(made_by(offset), (op.obj.clone(), key));
            }
        }
        // Where this change's own objects sit, found as they are first written into.
        let mut found: HashMap<ObjectId, Arc<Located>> = HashMap::new();
        // Ops of a change mostly come in runs into one object: the last one found, its name
        // and whether this change made it.
        let mut last: Option<(&ObjectId, Arc<Located>, String, bool)> = None;
        let mut writes = Vec::with_capacity(change.operations.len());
        for (offset, op) in (0u64..).zip(&change.operations) {
            let (place, obj, in_new_object) = match &last {
                Some((obj, located, name, in_new)) if **obj == op.obj => {
                    (&located.place, name, *in_new)
                }
                _ => {
                    let located = self.locate(doc, &op.obj, &made, &mut found)?;
                    let in_new = made.contains_key(&op.obj);
                    let (_, located, name, _) =
                        last.insert((&op.obj, located, obj_name(&op.obj), in_new));
                    (&located.place, &*name, in_new)
                }
            };
            let key = match &op.key {
                Key::Map(k) => String::from(k.as_str()),
                Key::Seq(_) => {
                    return Err(format!("it writes into a list at {place}"));
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
            let makes = matches!(action, Action::Make(_)).then(|| obj_name(&made_by(offset)));
            writes.push(Write {
                in_new_object,
                place: place.clone(),
                obj: obj.clone(),
                key,
                action,
                makes,
            });
        }
        // Remember where this change's objects sit: a later change may write into them
        // before this one is applied (changes of one message are judged, then applied).
        for id in made.keys() {
            if let Ok(located) = self.locate(doc, id, &made, &mut found) {
                self.remember(id, located);
            }
        }
        if self.paths.len() > MAX_REMEMBERED_OBJECTS {
            self.paths.clear();
            self.actors.clear();
        }
        Ok(writes)
    }

    /// Where object `obj` sits, if remembered.
    fn remembered(&self, obj: &ObjectId) -> Option<&Arc<Located>> {
        match obj {
            ObjectId::Root => None,
            ObjectId::Id(OpId(counter, actor)) => {
                let actor = self.actors.get(actor)?;
                self.paths.get(&(*counter, *actor))
            }
        }
    }

    fn remember(&mut self, obj: &ObjectId, located: Arc<Located>) {
        if let ObjectId::Id(OpId(counter, actor)) = obj {
            let actor = match self.actors.get(actor) {
                Some(index) => *index,
                None => {
                    let index = self.actors.len();
                    self.actors.insert(actor.clone(), index);
                    index
                }
            };
            self.paths.insert((*counter, actor), located);
        }
    }

    /// Where object `obj` sits: remembered, among the objects `made` by the change (their
    /// places kept in `found`), or read from `doc`.
    fn locate(
        &mut self,
        doc: &Automerge,
        obj: &ObjectId,
        made: &Made,
        found: &mut HashMap<ObjectId, Arc<Located>>,
    ) -> Result<Arc<Located>, String> {
        // Made by this change: under its parent, at its key. Parents come before children
        // in a change, and a chain is at most as long as the change, so this ends.
        let mut chain: Vec<(&ObjectId, &String)> = Vec::new();
        let mut at = obj;
        let base = loop {
            if *at == ObjectId::Root {
                break Located::root();
            }
            if let Some(located) = self.remembered(at).or_else(|| found.get(at)) {
                break located.clone();
            }
            match made.get(at) {
                Some((parent, key)) => {
                    if chain.len() > made.len() {
                        return Err("its objects nest in a cycle".into());
                    }
                    chain.push((at, key));
                    at = parent;
                }
                None => break self.existing(doc, at)?,
            }
        };
        let mut located = base;
        for (id, key) in chain.into_iter().rev() {
            located = Located::child(&located, key.clone());
            found.insert(id.clone(), located.clone());
        }
        Ok(located)
    }

    /// Where `obj`, an object `doc` holds, sits.
    fn existing(&mut self, doc: &Automerge, obj: &ObjectId) -> Result<Arc<Located>, String> {
        let name = obj_name(obj);
        let (id, _) = doc
            .import(&name)
            .map_err(|_| format!("it writes into object {name}, which nobody made"))?;
        let parents = doc
            .parents(&id)
            .map_err(|_| format!("it writes into object {name}, which nobody made"))?;
        let mut keys = Vec::new();
        for parent in parents {
            match parent.prop {
                Prop::Map(k) => keys.push(k),
                Prop::Seq(_) => return Err(format!("it writes into object {name} inside a list")),
            }
        }
        let mut located = Located::root();
        for key in keys.into_iter().rev() {
            located = Located::child(&located, key);
        }
        self.remember(obj, located.clone());
        Ok(located)
    }
}

/// `obj` named as objects are named here.
/// The same as `OpId`'s `Display` (`counter@actor`, the actor in lowercase hex), without its
/// formatter's cost: a change names an object in most of its ops.
fn obj_name(obj: &ObjectId) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    match obj {
        ObjectId::Root => ROOT_ID.to_string(),
        ObjectId::Id(OpId(counter, actor)) => {
            let actor = actor.to_bytes();
            let mut name = String::with_capacity(21 + 2 * actor.len());
            name.push_str(&counter.to_string());
            name.push('@');
            for byte in actor {
                name.push(char::from(HEX[usize::from(byte >> 4)]));
                name.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
            name
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_named_as_automerge_names_them() {
        assert_eq!(obj_name(&ObjectId::Root), ROOT_ID);
        for (counter, actor) in [
            (1, vec![0xab, 0x01, 0xff]),
            (u64::MAX, (0..=255).collect::<Vec<u8>>()),
            (42, vec![]),
        ] {
            let id = OpId(counter, ActorId::from(actor));
            assert_eq!(obj_name(&ObjectId::Id(id.clone())), id.to_string());
        }
    }
}
