//! The journal: every change the storage layer made below one directory, in order, with file
//! identities resolved to nodes so that a crash can be replayed without the real disk.

use std::collections::HashMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use super::Event;
use super::tree::Tree;
use crate::storage::fsutil::FileId;

/// A file or directory by identity (an inode, not a name).
pub(crate) type NodeId = usize;

/// The recorded directory itself: it exists and is durable before recording starts.
pub(crate) const ROOT: NodeId = 0;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
}

/// One recorded change, by node.
#[derive(Debug, Clone)]
pub(crate) enum Step {
    /// `node` got the name `name` in `dir` (made by this step if `made`, else a hard link).
    Link {
        dir: NodeId,
        name: String,
        node: NodeId,
        kind: Kind,
        made: bool,
    },
    /// The name `name` in `dir` was removed.
    Unlink { dir: NodeId, name: String },
    /// A name moved, replacing whatever had the new name.
    Rename {
        from: (NodeId, String),
        to: (NodeId, String),
    },
    /// Bytes written into a file.
    Write {
        node: NodeId,
        offset: u64,
        bytes: Vec<u8>,
    },
    /// A file cut or extended.
    SetLen { node: NodeId, len: u64 },
    /// A file's data fsynced.
    SyncFile { node: NodeId },
    /// A directory's entries fsynced.
    SyncDir { node: NodeId },
}

impl Step {
    /// The directories whose fsync makes this step durable, if it changes names.
    pub(crate) fn dirs(&self) -> Option<(NodeId, NodeId)> {
        match self {
            Step::Link { dir, .. } | Step::Unlink { dir, .. } => Some((*dir, *dir)),
            Step::Rename { from, to } => Some((from.0, to.0)),
            _ => None,
        }
    }

    /// The file whose fsync makes this step durable, if it changes data.
    pub(crate) fn file(&self) -> Option<NodeId> {
        match self {
            Step::Write { node, .. } | Step::SetLen { node, .. } => Some(*node),
            _ => None,
        }
    }
}

/// Everything recorded below one directory.
#[derive(Debug, Clone)]
pub struct Journal {
    pub(crate) root: PathBuf,
    pub(crate) steps: Vec<Step>,
    /// Each node's path (below the root) when it was made, to describe steps.
    names: Vec<String>,
    /// The names as they are now, to resolve the paths of new events.
    live: Tree,
    /// Open files' identities, to resolve writes.
    files: HashMap<FileId, NodeId>,
}

impl Journal {
    /// An empty journal of changes below `root`.
    pub(crate) fn new(root: PathBuf) -> Self {
        Self {
            root,
            steps: Vec::new(),
            names: vec![String::from(".")],
            live: Tree::new(),
            files: HashMap::new(),
        }
    }

    /// How many steps were recorded.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// How many recorded steps are writes of data.
    pub fn writes(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::Write { .. }))
            .count()
    }

    /// The steps that are fsyncs: cutting just before one leaves everything it would have
    /// made durable undurable, the most telling moments for a crash.
    pub fn syncs(&self) -> Vec<usize> {
        self.steps
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s, Step::SyncFile { .. } | Step::SyncDir { .. }))
            .map(|(i, _)| i)
            .collect()
    }

    /// A description of step `i`, naming files by their path.
    pub fn describe(&self, i: usize) -> String {
        match self.steps.get(i) {
            Some(step) => format!("#{i} {}", Described(self, step)),
            None => format!("#{i} (none)"),
        }
    }

    /// Records `event` if it is about something below the root.
    pub(crate) fn record(&mut self, event: &Event<'_>) {
        let step = match *event {
            Event::Open {
                path,
                file,
                created,
                truncated,
            } => {
                let Some(names) = self.below(path) else {
                    // A file elsewhere that may reuse an inode number we knew.
                    self.files.remove(&file);
                    return;
                };
                if created {
                    let Some(step) = self.make(&names, Kind::File) else {
                        self.files.remove(&file);
                        return;
                    };
                    let Step::Link { node, .. } = step else {
                        unreachable!("make returns a link")
                    };
                    self.files.insert(file, node);
                    step
                } else {
                    let Some(node) = self.live.lookup(&names) else {
                        self.files.remove(&file);
                        return;
                    };
                    self.files.insert(file, node);
                    if !truncated {
                        return;
                    }
                    Step::SetLen { node, len: 0 }
                }
            }
            Event::Write {
                file,
                offset,
                bytes,
            } => {
                let Some(&node) = self.files.get(&file) else {
                    return;
                };
                Step::Write {
                    node,
                    offset,
                    bytes: bytes.to_vec(),
                }
            }
            Event::SetLen { file, len } => {
                let Some(&node) = self.files.get(&file) else {
                    return;
                };
                Step::SetLen { node, len }
            }
            Event::SyncFile { file } => {
                let Some(&node) = self.files.get(&file) else {
                    return;
                };
                Step::SyncFile { node }
            }
            Event::SyncDir { path } => {
                let Some(node) = self.below(path).and_then(|n| self.live.lookup(&n)) else {
                    return;
                };
                Step::SyncDir { node }
            }
            Event::CreateDir { path } => {
                let Some(step) = self.below(path).and_then(|n| self.make(&n, Kind::Dir)) else {
                    return;
                };
                step
            }
            Event::Rename { from, to } => {
                let (Some(from), Some(to)) = (self.entry(from), self.entry(to)) else {
                    return;
                };
                Step::Rename { from, to }
            }
            Event::Link { from, to } => {
                let Some(node) = self.below(from).and_then(|n| self.live.lookup(&n)) else {
                    return;
                };
                let Some((dir, name)) = self.entry(to) else {
                    return;
                };
                Step::Link {
                    dir,
                    name,
                    node,
                    kind: Kind::File,
                    made: false,
                }
            }
            Event::Remove { path } => {
                let Some((dir, name)) = self.entry(path) else {
                    return;
                };
                Step::Unlink { dir, name }
            }
        };
        if step.dirs().is_some() {
            self.live.apply(&step);
        }
        self.steps.push(step);
    }

    /// A new node at `names`.
    fn make(&mut self, names: &[String], kind: Kind) -> Option<Step> {
        let (name, parent) = names.split_last()?;
        let dir = self.live.lookup(parent)?;
        let node = self.names.len();
        self.names.push(names.join("/"));
        Some(Step::Link {
            dir,
            name: name.clone(),
            node,
            kind,
            made: true,
        })
    }

    /// The directory and name of `path`, if its directory is known.
    fn entry(&self, path: &Path) -> Option<(NodeId, String)> {
        let names = self.below(path)?;
        let (name, parent) = names.split_last()?;
        Some((self.live.lookup(parent)?, name.clone()))
    }

    /// `path`'s names below the root, if it is below the root.
    fn below(&self, path: &Path) -> Option<Vec<String>> {
        let rest = path.strip_prefix(&self.root).ok()?;
        rest.components()
            .map(|c| match c {
                Component::Normal(name) => name.to_str().map(str::to_owned),
                _ => None,
            })
            .collect()
    }
}

/// A step with its nodes named.
struct Described<'a>(&'a Journal, &'a Step);

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |node: &NodeId| self.0.names.get(*node).map_or("?", String::as_str);
        match self.1 {
            Step::Link {
                dir,
                name: n,
                node,
                made,
                ..
            } => {
                let verb = if *made { "make" } else { "link" };
                write!(f, "{verb} {}/{n} (node {node} {})", name(dir), name(node))
            }
            Step::Unlink { dir, name: n } => write!(f, "remove {}/{n}", name(dir)),
            Step::Rename { from, to } => write!(
                f,
                "rename {}/{} -> {}/{}",
                name(&from.0),
                from.1,
                name(&to.0),
                to.1
            ),
            Step::Write {
                node,
                offset,
                bytes,
            } => write!(
                f,
                "write {} bytes at {offset} to {}",
                bytes.len(),
                name(node)
            ),
            Step::SetLen { node, len } => write!(f, "set length of {} to {len}", name(node)),
            Step::SyncFile { node } => write!(f, "fsync {}", name(node)),
            Step::SyncDir { node } => write!(f, "fsync directory {}", name(node)),
        }
    }
}
