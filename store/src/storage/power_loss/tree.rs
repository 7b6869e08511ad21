//! A directory tree held in memory: what a recorder believes is on disk, or what a crashed
//! disk holds. Nodes are files and directories by identity (an inode), so a file renamed or
//! linked under a second name is still one file, and a directory renamed takes its entries
//! with it.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::Path;

use super::journal::{Kind, NodeId, ROOT, Step};

/// A file's bytes or a directory's entries.
#[derive(Debug, Clone)]
enum Node {
    Dir(BTreeMap<String, NodeId>),
    File(Vec<u8>),
}

/// Nodes by id; [`ROOT`] is the recorded directory itself.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    nodes: HashMap<NodeId, Node>,
}

impl Tree {
    /// An empty root directory.
    pub(crate) fn new() -> Self {
        Self {
            nodes: HashMap::from([(ROOT, Node::Dir(BTreeMap::new()))]),
        }
    }

    /// The node at `names` below the root.
    pub(crate) fn lookup(&self, names: &[String]) -> Option<NodeId> {
        let mut at = ROOT;
        for name in names {
            match self.nodes.get(&at)? {
                Node::Dir(entries) => at = *entries.get(name)?,
                Node::File(_) => return None,
            }
        }
        Some(at)
    }

    /// Applies one step as the file system would; a step whose preconditions do not hold
    /// (its source was never made, because an earlier step was lost) changes nothing.
    pub(crate) fn apply(&mut self, step: &Step) {
        match step {
            Step::Link {
                dir,
                name,
                node,
                kind,
                ..
            } => {
                self.ensure(*node, *kind);
                if let Some(entries) = self.entries(*dir)
                    && !entries.contains_key(name)
                {
                    entries.insert(name.clone(), *node);
                }
            }
            Step::Unlink { dir, name } => {
                if let Some(entries) = self.entries(*dir) {
                    entries.remove(name);
                }
            }
            Step::Rename { from, to } => {
                let Some(node) = self.entries(from.0).and_then(|e| e.remove(&from.1)) else {
                    return;
                };
                match self.entries(to.0) {
                    Some(entries) => {
                        entries.insert(to.1.clone(), node);
                    }
                    None => {
                        // The target directory never reached the disk; the rename did not either.
                        if let Some(entries) = self.entries(from.0) {
                            entries.insert(from.1.clone(), node);
                        }
                    }
                }
            }
            Step::Write {
                node,
                offset,
                bytes,
            } => {
                let data = self.data(*node);
                let offset = *offset as usize;
                if data.len() < offset + bytes.len() {
                    data.resize(offset + bytes.len(), 0);
                }
                data[offset..offset + bytes.len()].copy_from_slice(bytes);
            }
            Step::SetLen { node, len } => self.data(*node).resize(*len as usize, 0),
            Step::SyncFile { .. } | Step::SyncDir { .. } => {}
        }
    }

    /// Writes the tree below the root into the existing, empty directory `dest`.
    pub(crate) fn materialize(&self, dest: &Path) -> io::Result<()> {
        self.write_dir(ROOT, dest)
    }

    fn write_dir(&self, dir: NodeId, dest: &Path) -> io::Result<()> {
        let Some(Node::Dir(entries)) = self.nodes.get(&dir) else {
            return Ok(());
        };
        for (name, node) in entries {
            let path = dest.join(name);
            match self.nodes.get(node) {
                Some(Node::Dir(_)) => {
                    fs::create_dir(&path)?;
                    self.write_dir(*node, &path)?;
                }
                Some(Node::File(data)) => fs::write(&path, data)?,
                None => {}
            }
        }
        Ok(())
    }

    fn ensure(&mut self, node: NodeId, kind: Kind) {
        self.nodes.entry(node).or_insert_with(|| match kind {
            Kind::Dir => Node::Dir(BTreeMap::new()),
            Kind::File => Node::File(Vec::new()),
        });
    }

    fn entries(&mut self, dir: NodeId) -> Option<&mut BTreeMap<String, NodeId>> {
        match self.nodes.get_mut(&dir)? {
            Node::Dir(entries) => Some(entries),
            Node::File(_) => None,
        }
    }

    fn data(&mut self, node: NodeId) -> &mut Vec<u8> {
        let node = self
            .nodes
            .entry(node)
            .or_insert_with(|| Node::File(Vec::new()));
        match node {
            Node::File(data) => data,
            Node::Dir(_) => unreachable!("the journal writes only to files"),
        }
    }
}
