//! Who takes part: Ann's device is the victim (`quire serve`, a child process; Ann founded the
//! group with `quire init` and invites with `quire invite`); Bea (the attacker), Cal (an
//! honest member) and Dan (Bea's accomplice, whom Ann removes for one attack) join through
//! those invites as in-process nodes. Bea's and Dan's nodes go offline once they hold the
//! group: from then on their devices speak by hand ([`crate::raw`], [`crate::forge`]). Cal's
//! node stays online and makes the honest edits whose delay is measured ([`probe`]).

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use automerge::ChangeHash;
use iroh::EndpointAddr;
use jiff::Timestamp;
use quire_store::doc::ProfilePatch;
use quire_store::ops;
use quire_store::{CritiqueId, DeviceId, GroupId, MemberId, SubmissionId};
use quire_sync::{Node, NodeConfig, NodeHandle, Ticket};
use tempfile::TempDir;

use crate::observer::{Observer, Probes, lock};
use crate::victim::{Victim, log_file, quire_ok};

/// The ids the forgeries aim at.
#[derive(Debug, Clone, Copy)]
pub struct Ids {
    pub ann: MemberId,
    pub bea: MemberId,
    pub cal: MemberId,
    /// Bea's accomplice: Ann removes him, and Bea relays what he writes after.
    pub dan: MemberId,
    pub ann_device: DeviceId,
    /// Ann's piece (submitted through the victim's CLI).
    pub piece: SubmissionId,
    /// Cal's critique of it.
    pub critique: CritiqueId,
}

/// The three devices and the group.
#[derive(Debug)]
pub struct Cast {
    _root: TempDir,
    pub victim: Victim,
    pub group: GroupId,
    pub ids: Ids,
    pub bea_dir: PathBuf,
    pub dan_dir: PathBuf,
    /// Whether Ann has removed Dan yet.
    pub dan_removed: bool,
    pub cal: Cal,
    /// The victim's group read from its disk.
    pub observer: Observer,
    /// Where the victim listens (from the invite ticket: its device and port).
    pub victim_addr: EndpointAddr,
}

/// Cal's node.
#[derive(Debug)]
pub struct Cal {
    _dir: PathBuf,
    node: Node,
}

impl Cast {
    /// Sets the group up and lets Bea and Cal in; returns with everyone converged and Bea's
    /// node offline.
    pub async fn new() -> anyhow::Result<Cast> {
        let root = tempfile::tempdir()?;
        let victim_dir = root.path().join("ann");
        let (bea_dir, cal_dir) = (root.path().join("bea"), root.path().join("cal"));
        let dan_dir = root.path().join("dan");
        for dir in [&victim_dir, &bea_dir, &cal_dir, &dan_dir] {
            std::fs::create_dir_all(dir)?;
        }
        quire_ok(
            &victim_dir,
            &[
                "init",
                "--name",
                "Tuesday Writers",
                "--me",
                "Ann",
                "--device-label",
                "Ann's laptop",
            ],
        )?;
        quire_ok(&victim_dir, &["rules", "--set", "credits=off"])?;
        let text = root.path().join("mill.txt");
        std::fs::write(&text, "It was a dark mill. The wheel turned all night.")?;
        let text = text.to_str().context("a UTF-8 temp path")?;
        quire_ok(
            &victim_dir,
            &[
                "submit",
                "--title",
                "The Mill",
                "--genre",
                "historical",
                "--file",
                text,
            ],
        )?;
        let mut victim = Victim::new(&victim_dir, &log_file(root.path())?);
        victim.start()?;

        let bea_ticket = ticket(&victim_dir)?;
        let cal_ticket = ticket(&victim_dir)?;
        let dan_ticket = ticket(&victim_dir)?;
        let group = bea_ticket.group;
        let victim_addr = bea_ticket.inviter.clone();
        let bea = Node::spawn(NodeConfig::loopback(&bea_dir)).await?;
        bea.handle()
            .join(&bea_ticket, Some("Bea".into()), "Bea's laptop".into())
            .await
            .context("Bea joins")?;
        let cal = Node::spawn(NodeConfig::loopback(&cal_dir)).await?;
        cal.handle()
            .join(&cal_ticket, Some("Cal".into()), "Cal's laptop".into())
            .await
            .context("Cal joins")?;
        let dan = Node::spawn(NodeConfig::loopback(&dan_dir)).await?;
        dan.handle()
            .join(&dan_ticket, Some("Dan".into()), "Dan's laptop".into())
            .await
            .context("Dan joins")?;

        // Cal learns of Dan's join from the victim.
        let deadline = Instant::now() + Duration::from_secs(60);
        let model = loop {
            let model = cal.handle().edit(group, |g| g.read()).await??;
            if model.members.len() == 4 {
                break model;
            }
            if Instant::now() > deadline {
                bail!("Cal's node did not learn of all four members within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let member = |name: &str| {
            model
                .members
                .values()
                .find(|m| m.profile.display_name == name)
                .map(|m| m.id)
                .with_context(|| format!("no member `{name}` in the group"))
        };
        let (ann, bea_id, cal_id) = (member("Ann")?, member("Bea")?, member("Cal")?);
        let dan_id = member("Dan")?;
        let ann_device = quire_tests::device_of(&victim_dir)?;
        let piece = model
            .submissions
            .values()
            .find(|s| s.title == "The Mill")
            .map(|s| s.id)
            .context("Ann's piece reached Cal")?;
        let critique = CritiqueId::random();
        cal.handle()
            .edit(group, move |g| {
                g.act(|doc, me| ops::claim(doc, me, piece, Timestamp::now()))?;
                g.act(|doc, me| {
                    let body = "The mill turns slowly; so does the middle.";
                    ops::critique(doc, me, piece, critique, body, Timestamp::now())
                })
            })
            .await??;

        let observer = Observer::open(&victim_dir, group)?;
        let cast_cal = Cal {
            _dir: cal_dir,
            node: cal,
        };
        let nodes = [&bea.handle(), &cast_cal.node.handle(), &dan.handle()];
        converge(&observer, &nodes, group).await?;
        bea.shutdown().await;
        dan.shutdown().await;
        Ok(Cast {
            _root: root,
            victim,
            group,
            ids: Ids {
                ann,
                bea: bea_id,
                cal: cal_id,
                dan: dan_id,
                ann_device,
                piece,
                critique,
            },
            bea_dir,
            dan_dir,
            dan_removed: false,
            cal: cast_cal,
            observer,
            victim_addr,
        })
    }

    /// A fresh victim process (each attack's peak memory is then its own); returns once Cal
    /// is connected to it again.
    pub async fn restart_victim(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.victim.stop()?
            && !status.success()
        {
            bail!("the victim exited with {status} when asked to stop");
        }
        self.victim.start()?;
        self.cal_connected().await
    }

    /// Ann removes Dan with `quire remove-member` on the victim's data dir (beside the running
    /// `quire serve`, as she would from a terminal); returns once Cal's node holds the removal,
    /// so the victim's process has taken it in and passed it on.
    pub async fn remove_dan(&mut self) -> anyhow::Result<()> {
        if self.dan_removed {
            return Ok(());
        }
        let dir = self.victim.dir().to_path_buf();
        tokio::task::spawn_blocking(move || quire_ok(&dir, &["remove-member", "Dan"])).await??;
        self.dan_removed = true;
        let deadline = Instant::now() + Duration::from_secs(60);
        let dan = self.ids.dan;
        loop {
            let removed = self
                .cal
                .handle()
                .edit(self.group, move |g| {
                    g.read()
                        .map(|m| m.members.get(&dan).is_some_and(|d| d.removed_at.is_some()))
                })
                .await??;
            if removed {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("Dan's removal did not reach Cal through the victim within 60 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until Cal's node is connected to the victim (nudging it to dial).
    pub async fn cal_connected(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let ann = self.ids.ann_device.to_string();
        let mut nudged = Instant::now() - Duration::from_secs(10);
        loop {
            let status = self.cal.handle().status().await;
            let connected = status
                .groups
                .iter()
                .flat_map(|g| &g.peers)
                .any(|p| p.device == ann && p.connected);
            if connected {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("Cal's node did not reconnect to the victim within 60 s");
            }
            if nudged.elapsed() > Duration::from_secs(1) {
                self.cal.handle().add_peer_addr(self.victim_addr.clone());
                nudged = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Cal {
    pub fn handle(&self) -> NodeHandle {
        self.node.handle()
    }
}

/// One honest edit by the node `cal`, registered with `probes` when made.
pub async fn probe(
    cal: NodeHandle,
    group: GroupId,
    probes: Arc<Mutex<Probes>>,
    n: usize,
) -> anyhow::Result<ChangeHash> {
    let hash = cal
        .edit(group, move |g| {
            let patch = ProfilePatch {
                bio: Some(format!("Cal's honest edit {n}")),
                ..Default::default()
            };
            g.act(|doc, me| ops::update_profile(doc, me, patch, Timestamp::now()))?;
            let made = Instant::now();
            let hash = g
                .doc()
                .get_last_local_change()
                .map(|c| c.hash())
                .context("the edit made a change")?;
            lock(&probes).made(hash, made);
            anyhow::Ok(hash)
        })
        .await??;
    Ok(hash)
}

/// A one-use member invite from the victim's CLI.
fn ticket(victim_dir: &Path) -> anyhow::Result<Ticket> {
    let out = quire_ok(victim_dir, &["invite", "--expires", "2h"])?;
    let line = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("quire1"))
        .with_context(|| format!("no ticket in `quire invite`'s output: {out}"))?;
    Ticket::from_str(line).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Waits until every node has the heads the victim's disk has.
async fn converge(
    observer: &Observer,
    nodes: &[&NodeHandle],
    group: GroupId,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut victim = observer.heads();
        victim.sort();
        let mut all = true;
        for node in nodes {
            let mut heads = node.edit(group, |g| g.doc().get_heads()).await?;
            heads.sort();
            all &= heads == victim;
        }
        if all {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("Bea, Cal and the victim did not converge within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
