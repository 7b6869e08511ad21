//! Holding one fsync back, so a test can act in the window between a write and its fsync: what
//! another process may do while a writer's data is in the page cache but not yet on disk.

use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, ThreadId};

use super::lock;

/// Where a gate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not yet armed by any thread.
    Open,
    /// The next file fsync made on this thread will wait.
    Armed(ThreadId),
    /// An fsync is waiting.
    Holding,
    /// Let go; it holds nothing more.
    Released,
}

#[derive(Debug)]
struct Inner {
    phase: Mutex<Phase>,
    changed: Condvar,
}

/// Gates that may hold an fsync.
static GATES: Mutex<Vec<Arc<Inner>>> = Mutex::new(Vec::new());

/// Holds the next file fsync of one thread until released (or until the gate is dropped).
/// Works while a [`Recorder`](super::Recorder) runs.
#[derive(Debug)]
pub struct SyncGate {
    inner: Arc<Inner>,
}

impl Default for SyncGate {
    fn default() -> Self {
        Self::new()
    }
}

impl SyncGate {
    /// A gate armed by no thread yet.
    pub fn new() -> Self {
        let inner = Arc::new(Inner {
            phase: Mutex::new(Phase::Open),
            changed: Condvar::new(),
        });
        lock(&GATES).push(Arc::clone(&inner));
        Self { inner }
    }

    /// Makes the calling thread's next fsync of a file wait for [`release`](Self::release).
    pub fn arm_here(&self) {
        *lock(&self.inner.phase) = Phase::Armed(thread::current().id());
    }

    /// Waits until an fsync is being held.
    pub fn wait_until_holding(&self) {
        let mut phase = lock(&self.inner.phase);
        while *phase != Phase::Holding {
            phase = self
                .inner
                .changed
                .wait(phase)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
    }

    /// Lets the held fsync (if any) go on.
    pub fn release(&self) {
        *lock(&self.inner.phase) = Phase::Released;
        self.inner.changed.notify_all();
    }
}

impl Drop for SyncGate {
    fn drop(&mut self) {
        self.release();
        lock(&GATES).retain(|g| !Arc::ptr_eq(g, &self.inner));
    }
}

/// Called before every file fsync while recording: waits if a gate is armed for this thread.
pub(crate) fn before_file_sync() {
    let me = thread::current().id();
    let gate = lock(&GATES)
        .iter()
        .find(|g| *lock(&g.phase) == Phase::Armed(me))
        .cloned();
    let Some(gate) = gate else {
        return;
    };
    let mut phase = lock(&gate.phase);
    *phase = Phase::Holding;
    gate.changed.notify_all();
    while *phase == Phase::Holding {
        phase = gate
            .changed
            .wait(phase)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
    }
}
