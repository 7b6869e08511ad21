//! Rebuilding what a disk could hold after the power failed: the crash states of a journal cut
//! at one step.

use std::collections::{HashMap, HashSet};
use std::io;
use std::path::Path;

use super::journal::{Journal, NodeId, Step};
use super::rng::Rng;
use super::tree::Tree;

/// How the steps not yet made durable fare in a crash state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// Every step reached the disk: what a `kill -9` leaves.
    KeepAll,
    /// No step that was not fsynced reached the disk.
    LoseAll,
    /// Each file keeps a random prefix of its unsynced changes (the first change lost may be
    /// torn: cut short, or its length kept with zeros for data); each unsynced change of names
    /// is kept or undone by a coin toss.
    Random,
}

/// What a crash state lost, against a `kill -9` at the same point.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Writes lost entirely.
    pub writes: usize,
    /// Writes that reached the disk only in part.
    pub torn_writes: usize,
    /// Other data changes (a file cut or extended) lost.
    pub lengths: usize,
    /// Creations, renames and removals of names undone.
    pub names: usize,
}

impl Dropped {
    /// Whether anything was lost.
    pub fn any(&self) -> bool {
        *self != Self::default()
    }
}

/// One state a crashed disk could be found in.
#[derive(Debug, Clone)]
pub struct Crash {
    tree: Tree,
    /// What was lost.
    pub dropped: Dropped,
}

impl Crash {
    /// Writes the crashed directory's contents into `dest`, an existing empty directory.
    pub fn materialize(&self, dest: &Path) -> io::Result<()> {
        self.tree.materialize(dest)
    }
}

/// What happens to one step not yet durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Kept,
    Lost,
    /// A write of which only the first `keep` bytes arrived; the rest are missing, or zeros
    /// if the file's new length arrived without them.
    Torn {
        keep: usize,
        zeros: bool,
    },
}

impl Journal {
    /// A state the disk could be in had the power failed after the first `cut` steps.
    ///
    /// A data change is durable once its file is fsynced; a change of names (made, linked,
    /// renamed, removed) once its directory is, or both directories for a rename between two.
    /// What is not durable may be lost as `flavor` and `rng` pick.
    pub fn crash(&self, cut: usize, flavor: Flavor, rng: &mut Rng) -> Crash {
        let steps = &self.steps[..cut.min(self.steps.len())];
        let durable = durable(steps);
        let mut fates = vec![Fate::Kept; steps.len()];
        let mut dropped = Dropped::default();
        // Data: each file keeps a prefix of its unsynced changes.
        let mut pending: HashMap<NodeId, Vec<usize>> = HashMap::new();
        for (i, step) in steps.iter().enumerate() {
            if let Some(node) = step.file()
                && !durable[i]
            {
                pending.entry(node).or_default().push(i);
            }
        }
        let mut files: Vec<_> = pending.into_iter().collect();
        files.sort_unstable();
        for (_, indices) in files {
            let keep = match flavor {
                Flavor::KeepAll => indices.len(),
                Flavor::LoseAll => 0,
                Flavor::Random => rng.up_to(indices.len()),
            };
            for (n, &i) in indices.iter().enumerate().skip(keep) {
                fates[i] = Fate::Lost;
                match &steps[i] {
                    Step::Write { bytes, .. } if n == keep && flavor == Flavor::Random => {
                        if !bytes.is_empty() && !rng.one_in(3) {
                            let keep = rng.below(bytes.len() as u64) as usize;
                            fates[i] = Fate::Torn {
                                keep,
                                zeros: rng.one_in(2),
                            };
                            dropped.torn_writes += 1;
                        } else {
                            dropped.writes += 1;
                        }
                    }
                    Step::Write { .. } => dropped.writes += 1,
                    _ => dropped.lengths += 1,
                }
            }
        }
        // Names: each unsynced change kept or undone on its own.
        for (i, step) in steps.iter().enumerate() {
            if step.dirs().is_some() && !durable[i] {
                let lost = match flavor {
                    Flavor::KeepAll => false,
                    Flavor::LoseAll => true,
                    Flavor::Random => rng.one_in(2),
                };
                if lost {
                    fates[i] = Fate::Lost;
                    dropped.names += 1;
                }
            }
        }
        let mut tree = Tree::new();
        for (step, fate) in steps.iter().zip(fates) {
            match fate {
                Fate::Kept => tree.apply(step),
                Fate::Lost => {}
                Fate::Torn { keep, zeros } => {
                    if let Step::Write {
                        node,
                        offset,
                        bytes,
                    } = step
                    {
                        let mut arrived = bytes[..keep].to_vec();
                        if zeros {
                            arrived.resize(bytes.len(), 0);
                        }
                        tree.apply(&Step::Write {
                            node: *node,
                            offset: *offset,
                            bytes: arrived,
                        });
                    }
                }
            }
        }
        Crash { tree, dropped }
    }
}

/// Which of `steps` are durable: followed by an fsync of their file, or of their directories.
fn durable(steps: &[Step]) -> Vec<bool> {
    let mut synced: HashSet<NodeId> = HashSet::new();
    let mut out = vec![true; steps.len()];
    for (i, step) in steps.iter().enumerate().rev() {
        match step {
            Step::SyncFile { node } | Step::SyncDir { node } => {
                synced.insert(*node);
            }
            _ => {
                out[i] = match (step.file(), step.dirs()) {
                    (Some(node), _) => synced.contains(&node),
                    (None, Some((a, b))) => synced.contains(&a) && synced.contains(&b),
                    (None, None) => true,
                }
            }
        }
    }
    out
}
