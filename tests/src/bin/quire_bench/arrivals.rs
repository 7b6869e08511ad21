//! When a node held a change: every document change a node reports for a group, stamped by a
//! task of its own as it arrives. A figure that read the node's events only after awaiting
//! something else (the edit's acknowledgement, another node) would time when it got round to
//! reading, not when the change arrived.

use std::time::Instant;

use anyhow::bail;
use automerge::ChangeHash;
use quire_store::GroupId;
use quire_sync::{NodeHandle, SyncEvent};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio::task::JoinHandle;

use super::sync::DEADLINE;

/// The heads a node reported for one group, each with when it reported them.
pub(super) struct Arrivals {
    stamped: mpsc::UnboundedReceiver<(Instant, Vec<ChangeHash>)>,
    task: JoinHandle<()>,
}

impl Arrivals {
    /// Starts stamping what `node` reports for `group` from now on (and its heads now).
    pub(super) fn watch(node: &NodeHandle, group: GroupId) -> Arrivals {
        let mut events = node.subscribe();
        let node = node.clone();
        let (tx, stamped) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut check_node = true;
            loop {
                if check_node {
                    check_node = false;
                    let Ok(heads) = node.edit(group, |g| g.doc().get_heads()).await else {
                        return;
                    };
                    if tx.send((Instant::now(), heads)).is_err() {
                        return;
                    }
                }
                match events.recv().await {
                    Ok(SyncEvent::DocumentChanged {
                        group: g, heads, ..
                    }) if g == group => {
                        if tx.send((Instant::now(), heads)).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => check_node = true,
                    Err(RecvError::Closed) => return,
                }
            }
        });
        Arrivals { stamped, task }
    }

    /// When the node first reported heads holding all of `wanted`.
    pub(super) async fn until(&mut self, wanted: &[ChangeHash]) -> anyhow::Result<Instant> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            match tokio::time::timeout_at(deadline, self.stamped.recv()).await {
                Ok(Some((at, heads))) => {
                    if wanted.iter().all(|h| heads.contains(h)) {
                        return Ok(at);
                    }
                }
                Ok(None) => bail!("the node stopped"),
                Err(_) => bail!("timed out after {} s", DEADLINE.as_secs()),
            }
        }
    }
}

impl Drop for Arrivals {
    fn drop(&mut self) {
        self.task.abort();
    }
}
