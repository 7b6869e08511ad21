//! What the victim holds, read from its data dir as any other `quire` process on that device
//! would: the group opened from disk and refreshed every 2 ms on a thread of its own. The
//! victim writes a peer's change to its log right after passing it on to its other peers, so a
//! change shows up here a poll after the victim took it.
//!
//! Honest edits made as probes are registered here at the moment they are made; the observer
//! notes when each first shows up on the victim's disk.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use automerge::ChangeHash;
use quire_store::storage::{DataDir, StorageOptions};
use quire_store::{Group, GroupId};

/// Probes in flight and landed.
#[derive(Debug, Default)]
pub struct Probes {
    /// Made, not yet on the victim's disk: when each was made.
    pending: HashMap<ChangeHash, Instant>,
    /// Landed: how long each took.
    landed: Vec<(ChangeHash, Duration)>,
}

impl Probes {
    /// Registers a probe made at `at`.
    pub fn made(&mut self, hash: ChangeHash, at: Instant) {
        self.pending.insert(hash, at);
    }

    /// Takes the delays of the probes landed so far, and the probes still pending.
    pub fn take(&mut self) -> (Vec<(ChangeHash, Duration)>, Vec<ChangeHash>) {
        let pending = self.pending.keys().copied().collect();
        (std::mem::take(&mut self.landed), pending)
    }

    /// How many probes have not landed.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }
}

/// The victim's group as its disk holds it.
#[derive(Debug)]
pub struct Observer {
    group: Arc<Mutex<Group>>,
    probes: Arc<Mutex<Probes>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Observer {
    /// Opens `group` in the data dir `root` and starts polling it.
    pub fn open(root: &Path, group: GroupId) -> anyhow::Result<Observer> {
        let device = quire_tests::device_of(root)?;
        let data = DataDir::open(root)?;
        let opened = Group::open(&data, group, device, StorageOptions::default())
            .context("opening the victim's group from its disk")?;
        let group = Arc::new(Mutex::new(opened));
        let probes = Arc::new(Mutex::new(Probes::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (group, probes, stop) = (group.clone(), probes.clone(), stop.clone());
            std::thread::spawn(move || poll(&group, &probes, &stop))
        };
        Ok(Observer {
            group,
            probes,
            stop,
            thread: Some(thread),
        })
    }

    /// The probes, to register one or read what landed.
    pub fn probes(&self) -> Arc<Mutex<Probes>> {
        self.probes.clone()
    }

    /// The group as of now (refreshed first).
    pub fn group(&self) -> MutexGuard<'_, Group> {
        let mut g = lock(&self.group);
        let _ = g.refresh();
        g
    }

    /// Whether the victim's disk holds change `hash`.
    pub fn has(&self, hash: &ChangeHash) -> bool {
        self.group().doc().get_change_meta_by_hash(hash).is_some()
    }

    /// The victim's heads on disk.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.group().doc().get_heads()
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Locks `m`, taking over the value if a panic poisoned it (the harness reports, not panics).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn poll(group: &Mutex<Group>, probes: &Mutex<Probes>, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let waiting = lock(probes).in_flight() > 0;
        if waiting {
            let mut g = lock(group);
            let _ = g.refresh();
            let seen = Instant::now();
            let mut p = lock(probes);
            let landed: Vec<(ChangeHash, Instant)> = p
                .pending
                .iter()
                .filter(|(h, _)| g.doc().get_change_meta_by_hash(h).is_some())
                .map(|(h, at)| (*h, *at))
                .collect();
            for (hash, at) in landed {
                p.pending.remove(&hash);
                p.landed.push((hash, seen.saturating_duration_since(at)));
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
