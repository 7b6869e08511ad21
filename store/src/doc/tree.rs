//! A plain snapshot of part of the document: maps of scalars and nested maps.
//!
//! Records are read from this tree rather than field by field from automerge: each lookup in
//! automerge's op set costs a seek, so reading ten thousand submissions one field at a time
//! costs a second, while walking the whole `submissions` subtree in one pass
//! ([`read_bulk`]) costs a few tens of milliseconds. A single entry is read with
//! [`read_one`], a few seeks for its own small subtree.
//!
//! Nesting deeper than [`MAX_DEPTH`] is cut off, so a hostile document cannot overflow the
//! stack; lists and text objects, which the schema never uses, become [`Node::Other`].

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use automerge::iter::DocItem;
use automerge::{ObjId, ObjType, ScalarValueRef, ValueRef};

/// Deepest nesting read; the schema needs four levels.
pub const MAX_DEPTH: usize = 8;

/// One value in the tree.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node<'a> {
    /// Borrowed from the document: the tree copies nothing until a record is built.
    Str(Cow<'a, str>),
    Int(i64),
    Uint(u64),
    Bool(bool),
    Null,
    Map(Map<'a>),
    /// Anything the schema never writes (lists, text, bytes, floats, too deep).
    Other(&'static str),
}

/// A map of the tree.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Map<'a>(pub BTreeMap<Cow<'a, str>, Node<'a>>);

/// Why a record could not be read.
pub(crate) type Invalid = String;

fn scalar<'a>(value: ScalarValueRef<'a>) -> Node<'a> {
    match value {
        ScalarValueRef::Str(s) => Node::Str(s),
        ScalarValueRef::Int(i) | ScalarValueRef::Timestamp(i) => Node::Int(i),
        ScalarValueRef::Uint(u) => Node::Uint(u),
        ScalarValueRef::Boolean(b) => Node::Bool(b),
        ScalarValueRef::Null => Node::Null,
        ScalarValueRef::Counter(_) => Node::Other("a counter"),
        ScalarValueRef::F64(_) => Node::Other("a float"),
        ScalarValueRef::Bytes(_) => Node::Other("bytes"),
        ScalarValueRef::Unknown { .. } => Node::Other("an unknown type"),
    }
}

/// The entries of one object, in the order automerge yields them.
type Entries<'a> = Vec<(Cow<'a, str>, Slot<'a>)>;

enum Slot<'a> {
    Value(Node<'a>),
    Child(ObjId),
}

fn slot<'a>(value: ValueRef<'a>, id: impl FnOnce() -> ObjId) -> Slot<'a> {
    match value {
        ValueRef::Object(ObjType::Map) => Slot::Child(id()),
        ValueRef::Object(_) => Slot::Value(Node::Other("a list or text")),
        ValueRef::Scalar(s) => Slot::Value(scalar(s)),
    }
}

/// Reads the map `obj` and everything under it in one pass over the document.
pub(crate) fn read_bulk<'a, D: automerge::ReadDoc>(doc: &'a D, obj: &ObjId) -> Map<'a> {
    let mut slots: HashMap<ObjId, Entries<'a>> = HashMap::new();
    let mut current: Option<(Arc<ObjId>, Entries<'a>)> = None;
    for item in doc.iter_at(obj, None) {
        let DocItem::Map(entry) = item.item else {
            continue;
        };
        let same = current
            .as_ref()
            .is_some_and(|(o, _)| Arc::ptr_eq(o, &item.obj) || **o == *item.obj);
        if !same {
            if let Some((o, entries)) = current.take() {
                slots.entry((*o).clone()).or_default().extend(entries);
            }
            current = Some((item.obj.clone(), Vec::new()));
        }
        let id = || entry.id();
        let s = slot(entry.value.clone(), id);
        if let Some((_, entries)) = current.as_mut() {
            entries.push((entry.key, s));
        }
    }
    if let Some((o, entries)) = current.take() {
        slots.entry((*o).clone()).or_default().extend(entries);
    }
    assemble(&mut slots, obj, 0)
}

fn assemble<'a>(slots: &mut HashMap<ObjId, Entries<'a>>, obj: &ObjId, depth: usize) -> Map<'a> {
    let mut map = BTreeMap::new();
    for (key, slot) in slots.remove(obj).unwrap_or_default() {
        let node = match slot {
            Slot::Value(v) => v,
            Slot::Child(_) if depth >= MAX_DEPTH => Node::Other("nested too deep"),
            Slot::Child(child) => Node::Map(assemble(slots, &child, depth + 1)),
        };
        map.insert(key, node);
    }
    Map(map)
}

/// Reads the map `obj` and everything under it, object by object; cheap for a small subtree.
pub(crate) fn read_one<'a, D: automerge::ReadDoc>(doc: &'a D, obj: &ObjId) -> Map<'a> {
    read_one_at(doc, obj, 0)
}

/// Reads just the entry `key` of the map `obj`, and everything under it, as a map of at most
/// that one entry; what a full read of `obj` would hold under `key`.
pub(crate) fn read_entry<'a, D: automerge::ReadDoc>(doc: &'a D, obj: &ObjId, key: &str) -> Map<'a> {
    collect(doc, doc.map_range(obj, key.to_owned()..=key.to_owned()), 0)
}

fn read_one_at<'a, D: automerge::ReadDoc>(doc: &'a D, obj: &ObjId, depth: usize) -> Map<'a> {
    collect(doc, doc.map_range(obj, ..), depth)
}

fn collect<'a, D: automerge::ReadDoc>(
    doc: &'a D,
    entries: automerge::iter::MapRange<'a>,
    depth: usize,
) -> Map<'a> {
    let mut map = BTreeMap::new();
    for entry in entries {
        let id = || entry.id();
        let node = match slot(entry.value.clone(), id) {
            Slot::Value(v) => v,
            Slot::Child(_) if depth >= MAX_DEPTH => Node::Other("nested too deep"),
            Slot::Child(child) => Node::Map(read_one_at(doc, &child, depth + 1)),
        };
        map.insert(entry.key, node);
    }
    Map(map)
}

fn kind(node: &Node<'_>) -> &'static str {
    match node {
        Node::Str(_) => "a string",
        Node::Int(_) | Node::Uint(_) => "a number",
        Node::Bool(_) => "a boolean",
        Node::Null => "null",
        Node::Map(_) => "a map",
        Node::Other(what) => what,
    }
}

fn wrong(key: &str, wanted: &str, node: &Node<'_>) -> Invalid {
    format!("`{key}` should be {wanted}, not {}", kind(node))
}

impl<'a> Map<'a> {
    /// The entries of the map.
    pub fn entries(&self) -> impl Iterator<Item = (&Cow<'a, str>, &Node<'a>)> {
        self.0.iter()
    }

    /// A required string.
    pub fn str(&self, key: &str) -> Result<String, Invalid> {
        self.opt_str(key)?
            .ok_or_else(|| format!("`{key}` is missing"))
    }

    /// An optional string: missing or null is `None`.
    pub fn opt_str(&self, key: &str) -> Result<Option<String>, Invalid> {
        match self.0.get(key) {
            None | Some(Node::Null) => Ok(None),
            Some(Node::Str(s)) => Ok(Some(s.to_string())),
            Some(other) => Err(wrong(key, "a string", other)),
        }
    }

    /// A string that may be missing, read as empty.
    pub fn str_or_empty(&self, key: &str) -> Result<String, Invalid> {
        Ok(self.opt_str(key)?.unwrap_or_default())
    }

    /// An optional signed integer.
    pub fn opt_i64(&self, key: &str) -> Result<Option<i64>, Invalid> {
        match self.0.get(key) {
            None | Some(Node::Null) => Ok(None),
            Some(Node::Int(i)) => Ok(Some(*i)),
            Some(Node::Uint(u)) => i64::try_from(*u)
                .map(Some)
                .map_err(|_| format!("`{key}` is too large")),
            Some(other) => Err(wrong(key, "a number", other)),
        }
    }

    /// A required signed integer.
    pub fn i64(&self, key: &str) -> Result<i64, Invalid> {
        self.opt_i64(key)?
            .ok_or_else(|| format!("`{key}` is missing"))
    }

    /// An optional non-negative integer that fits in 32 bits.
    pub fn opt_u32(&self, key: &str) -> Result<Option<u32>, Invalid> {
        match self.opt_i64(key)? {
            None => Ok(None),
            Some(v) => u32::try_from(v)
                .map(Some)
                .map_err(|_| format!("`{key}` is out of range: {v}")),
        }
    }

    /// A required non-negative integer that fits in 32 bits.
    pub fn u32(&self, key: &str) -> Result<u32, Invalid> {
        self.opt_u32(key)?
            .ok_or_else(|| format!("`{key}` is missing"))
    }

    /// A flag; missing is false.
    pub fn flag(&self, key: &str) -> Result<bool, Invalid> {
        match self.0.get(key) {
            None | Some(Node::Null) => Ok(false),
            Some(Node::Bool(b)) => Ok(*b),
            Some(other) => Err(wrong(key, "a boolean", other)),
        }
    }

    /// A nested map; missing is empty.
    pub fn map(&self, key: &str) -> Result<&Map<'a>, Invalid> {
        static EMPTY: Map<'static> = Map(BTreeMap::new());
        match self.0.get(key) {
            None => Ok(&EMPTY),
            Some(Node::Map(m)) => Ok(m),
            Some(other) => Err(wrong(key, "a map", other)),
        }
    }

    /// A set stored as `item -> true`.
    pub fn set(&self, key: &str) -> Result<BTreeSet<String>, Invalid> {
        Ok(self
            .map(key)?
            .0
            .iter()
            .filter(|(_, v)| **v == Node::Bool(true))
            .map(|(k, _)| k.to_string())
            .collect())
    }

    /// A map of strings; entries that are not strings are left out.
    pub fn strings(&self, key: &str) -> Result<BTreeMap<String, String>, Invalid> {
        Ok(self
            .map(key)?
            .0
            .iter()
            .filter_map(|(k, v)| match v {
                Node::Str(s) => Some((k.to_string(), s.to_string())),
                _ => None,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{Automerge, ROOT};

    #[test]
    fn bulk_and_one_by_one_read_the_same_tree() {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        let subs = tx.put_object(ROOT, "subs", ObjType::Map).unwrap();
        for i in 0..3 {
            let s = tx.put_object(&subs, format!("s{i}"), ObjType::Map).unwrap();
            tx.put(&s, "title", format!("T{i}")).unwrap();
            tx.put(&s, "n", i as u64).unwrap();
            let c = tx.put_object(&s, "claims", ObjType::Map).unwrap();
            tx.put(&c, "m", true).unwrap();
            tx.put_object(&s, "list", ObjType::List).unwrap();
        }
        tx.commit();
        let bulk = read_bulk(&doc, &subs);
        assert_eq!(bulk, read_one(&doc, &subs));
        let Node::Map(s1) = &bulk.0["s1"] else {
            panic!("s1 is a map")
        };
        assert_eq!(s1.str("title"), Ok("T1".into()));
        assert_eq!(s1.u32("n"), Ok(1));
        assert_eq!(s1.set("claims").unwrap().len(), 1);
        assert_eq!(
            s1.str("n"),
            Err("`n` should be a string, not a number".into())
        );
    }

    #[test]
    fn deep_nesting_is_cut_off() {
        let mut doc = Automerge::new();
        let mut tx = doc.transaction();
        let top = tx.put_object(ROOT, "top", ObjType::Map).unwrap();
        let mut obj = top.clone();
        for _ in 0..100 {
            obj = tx.put_object(&obj, "x", ObjType::Map).unwrap();
        }
        tx.commit();
        for tree in [read_bulk(&doc, &top), read_one(&doc, &top)] {
            let mut depth = 0;
            let mut node = &tree.0["x"];
            while let Node::Map(m) = node {
                depth += 1;
                node = &m.0["x"];
            }
            assert_eq!(depth, MAX_DEPTH);
            assert_eq!(*node, Node::Other("nested too deep"));
        }
    }
}
