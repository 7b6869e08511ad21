//! The attacks, each as Bea's device makes it: the changes, their signatures, the frames and
//! how they are sent. Each returns what it did ([`Effect`]); [`crate::run`] measures the
//! victim around it and checks what it kept.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use automerge::transaction::Transactable;
use automerge::{Change, ChangeHash, ReadDoc};
use iroh::{EndpointAddr, SecretKey};
use jiff::Timestamp;
use quire_store::doc::{self as layout, CritiqueMark};
use quire_store::model::{Critique, Device, RuleChange, Submission};
use quire_store::{CritiqueId, DeviceId, GroupId, RuleChangeId, SubmissionId, session_actor};
use quire_sync::NodeHandle;
use quire_sync::envelope::Offered;

use crate::bomb::op_bomb;
use crate::cast::{Ids, probe};
use crate::forge::{Forger, Forgery, commit, forge, frame, frame_of_chunks, map_at};
use crate::observer::{Observer, Probes, lock};
use crate::raw::{Closed, RawPeer};

/// How large the attacks are.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Tries of each one-frame attack, each a new change on a new connection.
    pub tries: usize,
    /// Honest edits timed without any attack.
    pub baseline: usize,
    /// Changes in each flood.
    pub flood: usize,
    /// How long the flood of small frames is spread over.
    pub flood_secs: f64,
    /// Most 1 MiB held changes sent (the bound is 64 MiB).
    pub held_big: usize,
    /// Most small held changes sent (the bound is 200,000), in frames of `held_per_frame`.
    pub held_small: usize,
    /// Held changes per frame.
    pub held_per_frame: usize,
    /// Ops the op bomb claims.
    pub bomb_ops: u64,
    /// Time between Cal's honest edits during a long attack.
    pub probe_every: Duration,
    /// How long Cal's edits are given to reach the victim after an attack.
    pub edit_wait: Duration,
}

/// The forbidden writes of the hostile-member suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    Organizer,
    RemoveFounder,
    BackdatedRules,
    RewritePiece,
    CritiqueAsOther,
    RateOthersCritique,
    DeleteDevice,
    AddDevice,
    ForgedActor,
    /// Dan's bio, written by Dan after his removal (it is in the change's past), relayed by Bea.
    AfterRemoval,
}

/// What a signature attack offers with a valid change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// No signature at all.
    Unsigned,
    /// A signature by another key over the change.
    WrongKey,
    /// Bea's genuine signature over another change of hers.
    Replayed,
}

/// What a flood's changes write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spam {
    /// Bea's bio, again and again: one key of one map.
    Bio,
    /// A new piece of Bea's each time: a new key each.
    Pieces,
}

/// One attack of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attack {
    /// No attack: Cal's edits alone, the figure the delays compare with.
    Baseline,
    Forbidden(Forbidden),
    Signature(Signing),
    /// Valid small changes, one frame each.
    FloodFrames(Spam),
    /// The same number of valid small changes in one message.
    FloodMessage(Spam),
    /// 1 MiB changes whose first dependency never comes.
    HeldBytes,
    /// Small changes whose first dependency never comes.
    HeldCount,
    /// One change whose op columns claim millions of ops.
    OpBomb,
    /// Bea's bio edit, correctly signed, whose op names the wrong predecessor (the counter of
    /// the op it overwrites, plus one).
    WrongPred,
}

impl Attack {
    /// Every attack, in the order they run: the op bomb and the wrong predecessor last (if the
    /// victim takes either, every later read of its group pays for it, or fails).
    pub fn all() -> Vec<Attack> {
        use Forbidden::*;
        let mut all = vec![Attack::Baseline];
        all.extend(
            [
                Organizer,
                RemoveFounder,
                BackdatedRules,
                RewritePiece,
                CritiqueAsOther,
                RateOthersCritique,
                DeleteDevice,
                AddDevice,
                ForgedActor,
                AfterRemoval,
            ]
            .map(Attack::Forbidden),
        );
        all.extend(
            [Signing::Unsigned, Signing::WrongKey, Signing::Replayed].map(Attack::Signature),
        );
        all.extend([
            Attack::FloodFrames(Spam::Bio),
            Attack::FloodMessage(Spam::Bio),
            Attack::FloodFrames(Spam::Pieces),
            Attack::FloodMessage(Spam::Pieces),
            Attack::HeldBytes,
            Attack::HeldCount,
            Attack::OpBomb,
            Attack::WrongPred,
        ]);
        all
    }

    /// Its key for `--only`.
    pub fn key(self) -> &'static str {
        match self {
            Attack::Baseline => "baseline",
            Attack::Forbidden(f) => match f {
                Forbidden::Organizer => "organizer",
                Forbidden::RemoveFounder => "remove-founder",
                Forbidden::BackdatedRules => "backdated-rules",
                Forbidden::RewritePiece => "rewrite-piece",
                Forbidden::CritiqueAsOther => "critique-as-other",
                Forbidden::RateOthersCritique => "rate-others-critique",
                Forbidden::DeleteDevice => "delete-device",
                Forbidden::AddDevice => "add-device",
                Forbidden::ForgedActor => "forged-actor",
                Forbidden::AfterRemoval => "after-removal",
            },
            Attack::Signature(Signing::Unsigned) => "unsigned",
            Attack::Signature(Signing::WrongKey) => "wrong-key",
            Attack::Signature(Signing::Replayed) => "replayed",
            Attack::FloodFrames(Spam::Bio) => "flood-frames",
            Attack::FloodMessage(Spam::Bio) => "flood-message",
            Attack::FloodFrames(Spam::Pieces) => "flood-pieces-frames",
            Attack::FloodMessage(Spam::Pieces) => "flood-pieces-message",
            Attack::HeldBytes => "held-bytes",
            Attack::HeldCount => "held-count",
            Attack::OpBomb => "op-bomb",
            Attack::WrongPred => "wrong-pred",
        }
    }

    /// Its name in the table.
    pub fn name(self, sizes: &Sizes) -> String {
        match self {
            Attack::Baseline => "none (Cal's edits alone)".into(),
            Attack::Forbidden(f) => match f {
                Forbidden::Organizer => "makes herself organizer".into(),
                Forbidden::RemoveFounder => {
                    "makes herself organizer, then removes the founder (two changes)".into()
                }
                Forbidden::BackdatedRules => {
                    "rule change in the founder's name, dated 2020 (starting credits 100)".into()
                }
                Forbidden::RewritePiece => "rewrites the title and text of Ann's piece".into(),
                Forbidden::CritiqueAsOther => "critique of Ann's piece with reviewer = Cal".into(),
                Forbidden::RateOthersCritique => "rates Cal's critique of Ann's piece".into(),
                Forbidden::DeleteDevice => "deletes Ann's device".into(),
                Forbidden::AddDevice => "adds a device to Cal without an invite".into(),
                Forbidden::ForgedActor => {
                    "writes Ann's bio under an actor id starting with Ann's device key".into()
                }
                Forbidden::AfterRemoval => "relays Dan's bio edit, made (and signed by Dan) \
                     after Ann removed him"
                    .into(),
            },
            Attack::Signature(Signing::Unsigned) => "a valid change, unsigned".into(),
            Attack::Signature(Signing::WrongKey) => "a valid change signed by another key".into(),
            Attack::Signature(Signing::Replayed) => {
                "a valid change with Bea's signature of another change".into()
            }
            Attack::FloodFrames(spam) => format!(
                "flood: {} valid small changes ({}), one frame each, over ~{} s",
                thousands(sizes.flood as u64),
                spam.what(),
                sizes.flood_secs
            ),
            Attack::FloodMessage(spam) => format!(
                "flood: {} valid small changes ({}) in one message",
                thousands(sizes.flood as u64),
                spam.what()
            ),
            Attack::HeldBytes => {
                "held back: 1 MiB changes whose first dependency never comes".into()
            }
            Attack::HeldCount => format!(
                "held back: small changes whose first dependency never comes, {} a frame",
                thousands(sizes.held_per_frame as u64)
            ),
            Attack::OpBomb => format!(
                "op bomb: one change claiming {} ops",
                thousands(sizes.bomb_ops)
            ),
            Attack::WrongPred => "her bio edit, signed, naming the wrong predecessor \
                 (`pred[0]`'s counter + 1)"
                .into(),
        }
    }
}

impl Spam {
    fn what(self) -> &'static str {
        match self {
            Spam::Bio => "each sets her bio",
            Spam::Pieces => "each a new piece of hers",
        }
    }
}

/// What an attack did, for the checks and the table.
#[derive(Debug, Default)]
pub struct Effect {
    /// How often it was tried, in words.
    pub tried: String,
    /// How the victim answered, in words.
    pub answer: String,
    /// Changes the victim must never keep or relay.
    pub forged: Vec<ChangeHash>,
    /// Bea's valid changes, which the victim may keep (and relay).
    pub valid: Vec<ChangeHash>,
    /// What went against expectation.
    pub failures: Vec<String>,
}

/// What an attack works with.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub forger: &'a Forger,
    /// Dan's device key (his document is the victim's, read at the attack).
    pub dan: &'a Forger,
    pub raw: &'a RawPeer,
    pub observer: &'a Observer,
    pub ids: Ids,
    pub group: GroupId,
    pub target: EndpointAddr,
    pub cal: NodeHandle,
    pub probes: Arc<Mutex<Probes>>,
    pub sizes: Sizes,
    /// Cal's honest edits so far (numbers their bios).
    pub edits: Arc<AtomicUsize>,
    /// The hashes of Cal's honest edits during this attack.
    pub made: Arc<Mutex<Vec<ChangeHash>>>,
}

impl Ctx<'_> {
    /// One honest edit by Cal, timed until the victim holds it.
    pub async fn probe(&self) -> anyhow::Result<()> {
        let n = self.edits.fetch_add(1, Ordering::Relaxed) + 1;
        let hash = probe(self.cal.clone(), self.group, self.probes.clone(), n).await?;
        lock(&self.made).push(hash);
        Ok(())
    }

    /// Cal's honest edits every `sizes.probe_every` until the returned flag is set.
    pub fn prober(&self) -> Prober {
        let stop = Arc::new(AtomicBool::new(false));
        let (cal, group, probes, every) = (
            self.cal.clone(),
            self.group,
            self.probes.clone(),
            self.sizes.probe_every,
        );
        let (edits, made, flag) = (self.edits.clone(), self.made.clone(), stop.clone());
        let task = tokio::spawn(async move {
            let mut next = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let n = edits.fetch_add(1, Ordering::Relaxed) + 1;
                let hash = probe(cal.clone(), group, probes.clone(), n).await?;
                lock(&made).push(hash);
                next += every;
                tokio::time::sleep_until(next.into()).await;
            }
            anyhow::Ok(())
        });
        Prober { stop, task }
    }
}

/// Cal's honest edits in the background.
#[derive(Debug)]
pub struct Prober {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Prober {
    /// Stops after the edit under way.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await?
    }
}

/// Runs `attack`.
pub async fn run(attack: Attack, ctx: &Ctx<'_>) -> anyhow::Result<Effect> {
    match attack {
        Attack::Baseline => baseline(ctx).await,
        Attack::Forbidden(Forbidden::AfterRemoval) => {
            one_frame_tries(ctx, |ctx| {
                let changes = after_removal(ctx)?;
                let sigs = ctx.dan.vouch(&changes);
                Ok((frame(&changes, &sigs), hashes(&changes)))
            })
            .await
        }
        Attack::Forbidden(f) => {
            one_frame_tries(ctx, |ctx| {
                let changes = forbidden(ctx, f)?;
                let sigs = ctx.forger.vouch(&changes);
                Ok((frame(&changes, &sigs), hashes(&changes)))
            })
            .await
        }
        Attack::WrongPred => {
            one_frame_tries(ctx, |ctx| {
                let change = wrong_pred(ctx)?;
                let sigs = ctx.forger.vouch(std::slice::from_ref(&change));
                Ok((
                    frame(std::slice::from_ref(&change), &sigs),
                    vec![change.hash()],
                ))
            })
            .await
        }
        Attack::Signature(s) => {
            one_frame_tries(ctx, |ctx| {
                let change = own_bio(ctx, "signed or not")?;
                let sigs: Vec<Offered> = match s {
                    Signing::Unsigned => Vec::new(),
                    Signing::WrongKey => {
                        let other = stranger_key();
                        vec![(
                            change.hash(),
                            quire_sync::signing::sign_change(&other, &change.hash()),
                        )]
                    }
                    Signing::Replayed => {
                        let other = own_bio(ctx, "another change")?;
                        vec![(change.hash(), ctx.forger.sign(&other.hash()))]
                    }
                };
                Ok((
                    frame(std::slice::from_ref(&change), &sigs),
                    vec![change.hash()],
                ))
            })
            .await
        }
        Attack::FloodFrames(spam) => flood_frames(ctx, spam).await,
        Attack::FloodMessage(spam) => flood_message(ctx, spam).await,
        Attack::HeldBytes => held(ctx, true).await,
        Attack::HeldCount => held(ctx, false).await,
        Attack::OpBomb => bomb(ctx).await,
    }
}

/// A device key nobody in the group has.
fn stranger_key() -> SecretKey {
    SecretKey::from_bytes(&std::array::from_fn(|_| fastrand::u8(..)))
}

/// Cal's edits alone, one every `probe_every`.
async fn baseline(ctx: &Ctx<'_>) -> anyhow::Result<Effect> {
    for _ in 0..ctx.sizes.baseline {
        let started = Instant::now();
        ctx.probe().await?;
        tokio::time::sleep(ctx.sizes.probe_every.saturating_sub(started.elapsed())).await;
    }
    Ok(Effect {
        tried: format!("{} honest edits", ctx.sizes.baseline),
        answer: "took every edit".into(),
        ..Default::default()
    })
}

/// `sizes.tries` tries of a one-frame attack, each a fresh forgery on a new connection, sent
/// while Cal makes an honest edit.
async fn one_frame_tries(
    ctx: &Ctx<'_>,
    make: impl Fn(&Ctx<'_>) -> anyhow::Result<(Vec<u8>, Vec<ChangeHash>)>,
) -> anyhow::Result<Effect> {
    let mut effect = Effect::default();
    let mut answers: Vec<Closed> = Vec::new();
    let mut bytes = 0;
    for _ in 0..ctx.sizes.tries {
        let (frame, forged) = make(ctx)?;
        bytes = frame.len();
        let mut session = ctx.raw.session(ctx.target.clone(), ctx.group).await?;
        let started = Instant::now();
        let (sent, probed) = tokio::join!(session.send(&frame), ctx.probe());
        probed?;
        if let Err(e) = sent {
            effect
                .failures
                .push(format!("sending the frame failed: {e:#}"));
        }
        let closed = session.closed_within(Duration::from_secs(10)).await;
        match closed {
            Some(c) => answers.push(c),
            None => {
                effect.failures.push(format!(
                    "the victim kept the connection open {:.0} s after the forgery",
                    started.elapsed().as_secs_f64()
                ));
                session.hang_up();
            }
        }
        effect.forged.extend(forged);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    effect.tried = format!(
        "{} × (a {bytes} B frame on a new connection)",
        ctx.sizes.tries
    );
    effect.answer = summarize(&answers, ctx.sizes.tries);
    let refused = answers.iter().filter(|c| c.code == Some(6)).count();
    if refused != ctx.sizes.tries {
        effect.failures.push(format!(
            "{refused} of {} tries closed with code 6 (a refused change): {answers:?}",
            ctx.sizes.tries
        ));
    }
    Ok(effect)
}

/// "closed with code 6 every time: <the first reason>".
fn summarize(answers: &[Closed], tries: usize) -> String {
    let Some(first) = answers.first() else {
        return "never closed the connection".into();
    };
    let same = answers.iter().filter(|c| c.code == first.code).count();
    let code = code(first);
    let times = if same == tries {
        if tries == 1 {
            String::new()
        } else {
            " every time".into()
        }
    } else {
        format!(" {same} of {tries} times")
    };
    format!("disconnected Bea ({code}){times}: {}", first.reason)
}

/// "code 6", or how the connection ended without one.
fn code(closed: &Closed) -> String {
    closed
        .code
        .map_or_else(|| "no close code".to_string(), |c| format!("code {c}"))
}

/// "1 frame", "3 frames".
fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{} {what}s", thousands(n as u64))
    }
}

fn hashes(changes: &[Change]) -> Vec<ChangeHash> {
    changes.iter().map(Change::hash).collect()
}

/// The forbidden changes, as a chain under one actor (Bea's own, but for the forged actor).
fn forbidden(ctx: &Ctx<'_>, f: Forbidden) -> anyhow::Result<Vec<Change>> {
    let ids = ctx.ids;
    let member = |m: quire_store::MemberId| vec!["members".to_string(), m.to_string()];
    let put = |path: Vec<String>, field: &'static str, value: automerge::ScalarValue| {
        forge(move |tx| {
            let path: Vec<&str> = path.iter().map(String::as_str).collect();
            let obj = map_at(&*tx, &path)?;
            tx.put(&obj, field, value)?;
            Ok(())
        })
    };
    let mut actor = ctx.forger.fresh_actor();
    let forgeries: Vec<Forgery> = match f {
        Forbidden::Organizer => vec![put(member(ids.bea), "organizer", true.into())],
        Forbidden::RemoveFounder => vec![
            put(member(ids.bea), "organizer", true.into()),
            forge(move |tx| {
                layout::set_removed(tx, ids.ann, Timestamp::now())?;
                Ok(())
            }),
        ],
        Forbidden::BackdatedRules => {
            let change = RuleChange {
                id: RuleChangeId::random(),
                at: "2020-01-01T00:00:00Z".parse()?,
                by: ids.ann,
                values: [("starting_credits".to_string(), "100".to_string())].into(),
            };
            vec![forge(move |tx| {
                layout::put_rule_change(tx, &change)?;
                Ok(())
            })]
        }
        Forbidden::RewritePiece => vec![forge(move |tx| {
            let obj = map_at(&*tx, &["submissions", &ids.piece.to_string()])?;
            tx.put(&obj, "title", "The Mill, Improved")?;
            tx.put(&obj, "text", "Bea wrote this now.")?;
            Ok(())
        })],
        Forbidden::CritiqueAsOther => {
            let critique = Critique {
                id: CritiqueId::random(),
                reviewer: ids.cal,
                body: "Dreadful.".into(),
                word_count: 1,
                delivered_at: Timestamp::now(),
                rating: Some(1),
                thanked_at: None,
                tipped_at: None,
            };
            vec![forge(move |tx| {
                layout::put_critique(tx, ids.piece, &critique)?;
                Ok(())
            })]
        }
        Forbidden::RateOthersCritique => vec![forge(move |tx| {
            layout::mark_critique(tx, ids.piece, ids.critique, CritiqueMark::Rated(1))?;
            Ok(())
        })],
        Forbidden::DeleteDevice => vec![forge(move |tx| {
            let devices = map_at(&*tx, &["members", &ids.ann.to_string(), "devices"])?;
            tx.delete(&devices, ids.ann_device.to_string().as_str())?;
            Ok(())
        })],
        Forbidden::AddDevice => {
            let eve = stranger_key();
            let eve = DeviceId::from_bytes(*eve.public().as_bytes());
            vec![forge(move |tx| {
                let device = Device {
                    label: "Cal's other phone".into(),
                    added_at: Timestamp::now(),
                };
                layout::put_device(tx, ids.cal, eve, &device)?;
                Ok(())
            })]
        }
        Forbidden::AfterRemoval => anyhow::bail!("Dan's changes are made by `after_removal`"),
        Forbidden::ForgedActor => {
            actor = session_actor(ids.ann_device);
            vec![put(
                member(ids.ann),
                "bio",
                "I quit. Bea runs the group now.".into(),
            )]
        }
    };
    ctx.forger.changes(actor, forgeries)
}

/// Dan sets his own bio on top of the victim's document, which holds his removal: the
/// removal is in the change's past.
fn after_removal(ctx: &Ctx<'_>) -> anyhow::Result<Vec<Change>> {
    let mut doc = ctx.observer.group().doc().fork();
    let dan = ctx.ids.dan.to_string();
    let removed = map_at(&doc, &["members", &dan])
        .and_then(|obj| Ok(doc.get(&obj, "removed_at")?))?
        .is_some();
    anyhow::ensure!(removed, "the victim does not hold Dan's removal");
    doc.set_actor(ctx.dan.fresh_actor());
    let change = commit(
        &mut doc,
        forge(move |tx| {
            let obj = map_at(&*tx, &["members", &dan])?;
            tx.put(&obj, "bio", "Removed? Bea still passes my edits on.")?;
            Ok(())
        }),
    )?;
    Ok(vec![change])
}

/// Bea's valid bio edit with its op's first predecessor moved to the next op of the same
/// actor: decoded, the counter raised by one, encoded again by automerge. It is Bea's own
/// key that signs it.
fn wrong_pred(ctx: &Ctx<'_>) -> anyhow::Result<Change> {
    let valid = own_bio(ctx, "a predecessor off by one")?;
    let mut expanded = valid.decode();
    let op = expanded
        .operations
        .first_mut()
        .context("Bea's bio edit has an op")?;
    let pred = op
        .pred
        .get_mut(0)
        .context("Bea's bio edit overwrites a bio, so it names a predecessor")?;
    pred.0 += 1;
    expanded.hash = None;
    Ok(Change::from(expanded))
}

/// A valid change: Bea sets her own bio.
fn own_bio(ctx: &Ctx<'_>, text: &'static str) -> anyhow::Result<Change> {
    let bea = ctx.ids.bea.to_string();
    let changes = ctx.forger.changes(
        ctx.forger.fresh_actor(),
        vec![forge(move |tx| {
            let obj = map_at(&*tx, &["members", &bea])?;
            tx.put(&obj, "bio", text)?;
            Ok(())
        })],
    )?;
    changes.into_iter().next().context("one change")
}

/// `n` valid changes by a fresh actor of Bea's, each setting her bio to `bio(i)`, in a chain.
fn bio_chain(
    ctx: &Ctx<'_>,
    n: usize,
    bio: impl Fn(usize) -> String,
) -> anyhow::Result<Vec<Change>> {
    let obj = ctx.forger.map(&["members", &ctx.ids.bea.to_string()])?;
    chain(ctx, n, |i, tx| {
        tx.put(&obj, "bio", bio(i))?;
        Ok(())
    })
}

/// `n` valid changes by a fresh actor of Bea's, each a new piece of hers.
fn piece_chain(ctx: &Ctx<'_>, n: usize) -> anyhow::Result<Vec<Change>> {
    let bea = ctx.ids.bea;
    chain(ctx, n, |i, tx| {
        let piece = Submission {
            id: SubmissionId::random(),
            author: bea,
            title: format!("Spam {i}"),
            genre: "spam".into(),
            word_count: 1,
            text: "spam".into(),
            feedback_wanted: String::new(),
            content_notes: String::new(),
            submitted_at: Timestamp::now(),
            due_at: None,
            critiques_wanted: 1,
            withdrawn_at: None,
            claims: Default::default(),
            critiques: Default::default(),
        };
        layout::put_submission(tx, &piece)?;
        Ok(())
    })
}

/// `n` changes by a fresh actor of Bea's, the `i`th made by `write(i, tx)`, in a chain.
fn chain(
    ctx: &Ctx<'_>,
    n: usize,
    write: impl Fn(usize, &mut automerge::transaction::Transaction<'_>) -> anyhow::Result<()>,
) -> anyhow::Result<Vec<Change>> {
    let mut doc = ctx.forger.fork(ctx.forger.fresh_actor());
    let before = doc.get_heads();
    for i in 0..n {
        let mut tx = doc.transaction();
        write(i, &mut tx)?;
        let options = automerge::transaction::CommitOptions::default()
            .with_time(Timestamp::now().as_second());
        tx.commit_with(options);
    }
    Ok(doc.get_changes(&before).into_iter().collect())
}

/// A flood's changes.
fn spam(ctx: &Ctx<'_>, spam: Spam) -> anyhow::Result<Vec<Change>> {
    match spam {
        Spam::Bio => bio_chain(ctx, ctx.sizes.flood, |i| format!("flood {i}")),
        Spam::Pieces => piece_chain(ctx, ctx.sizes.flood),
    }
}

/// How long a flood is given to be taken.
const UNTIL_HELD: Duration = Duration::from_secs(300);

/// Waits until the victim's disk holds `hash`, up to `limit`; when it first did.
async fn until_held(observer: &Observer, hash: ChangeHash, limit: Duration) -> Option<Instant> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if observer.has(&hash) {
            return Some(Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// The flood, one change a frame, each frame signed, paced to `flood_secs`.
async fn flood_frames(ctx: &Ctx<'_>, kind: Spam) -> anyhow::Result<Effect> {
    let n = ctx.sizes.flood;
    let changes = spam(ctx, kind)?;
    let frames: Vec<Vec<u8>> = changes
        .iter()
        .map(|c| {
            frame(
                std::slice::from_ref(c),
                &ctx.forger.vouch(std::slice::from_ref(c)),
            )
        })
        .collect();
    let bytes: usize = frames.iter().map(Vec::len).sum();
    let last = changes.last().context("a flood")?.hash();
    let mut session = ctx.raw.session(ctx.target.clone(), ctx.group).await?;
    let prober = ctx.prober();
    let started = Instant::now();
    let pace = Duration::from_secs_f64(ctx.sizes.flood_secs) / n as u32;
    let mut effect = Effect::default();
    // Sending waits on the victim's flow control: a victim slower than the flood slows the
    // sender, so sending and taking together get `UNTIL_HELD`.
    let deadline = started + UNTIL_HELD;
    let mut sent = 0;
    for (i, f) in frames.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, session.send(f)).await {
            Ok(Ok(())) => sent += 1,
            Ok(Err(e)) => {
                effect
                    .failures
                    .push(format!("the victim stopped taking frames after {i}: {e:#}"));
                break;
            }
            Err(_) => break,
        }
        if i % 50 == 49 {
            let due = pace * (i as u32 + 1);
            tokio::time::sleep(due.saturating_sub(started.elapsed())).await;
        }
    }
    let sent_in = started.elapsed();
    let left = deadline.saturating_duration_since(Instant::now());
    let applied = until_held(ctx.observer, last, left).await;
    prober.stop().await?;
    let closed = session.closed_now();
    session.hang_up();
    let taken = if applied.is_some() {
        n
    } else {
        let group = ctx.observer.group();
        changes
            .iter()
            .filter(|c| group.doc().get_change_meta_by_hash(&c.hash()).is_some())
            .count()
    };
    effect.tried = if sent == n {
        format!(
            "once: {} frames, {} in all, sent in {:.1} s",
            thousands(n as u64),
            mib(bytes as u64),
            sent_in.as_secs_f64()
        )
    } else {
        format!(
            "once: {} of {} frames sent (the victim's flow control held the rest back) in {:.0} s",
            thousands(sent as u64),
            thousands(n as u64),
            sent_in.as_secs_f64()
        )
    };
    effect.answer = match (applied, &closed) {
        (None, None) => format!(
            "had taken {} of the {} {} s after the first was sent; stayed connected",
            thousands(taken as u64),
            thousands(n as u64),
            UNTIL_HELD.as_secs()
        ),
        _ => accepted(applied.map(|at| at - started), n, closed.as_ref()),
    };
    if applied.is_none() {
        effect.failures.push(match &closed {
            Some(c) => format!(
                "the victim disconnected Bea before taking the flood: {}",
                c.reason
            ),
            None => format!(
                "the victim had taken {} of the {} changes {} s after the first was sent",
                thousands(taken as u64),
                thousands(n as u64),
                UNTIL_HELD.as_secs()
            ),
        });
    }
    effect.valid = hashes(&changes);
    Ok(effect)
}

/// The flood as one message with one signature (over the newest change: it vouches for all).
async fn flood_message(ctx: &Ctx<'_>, kind: Spam) -> anyhow::Result<Effect> {
    let n = ctx.sizes.flood;
    let changes = spam(ctx, kind)?;
    let frame = frame(&changes, &ctx.forger.vouch(&changes));
    let last = changes.last().context("a flood")?.hash();
    let mut session = ctx.raw.session(ctx.target.clone(), ctx.group).await?;
    let prober = ctx.prober();
    let started = Instant::now();
    let mut effect = Effect::default();
    if let Err(e) = session.send(&frame).await {
        effect
            .failures
            .push(format!("sending the message failed: {e:#}"));
    }
    let applied = until_held(ctx.observer, last, UNTIL_HELD).await;
    prober.stop().await?;
    let closed = session.closed_now();
    session.hang_up();
    effect.tried = format!("once: one {} frame", mib(frame.len() as u64));
    effect.answer = accepted(applied.map(|at| at - started), n, closed.as_ref());
    if applied.is_none() {
        effect.failures.push(match &closed {
            Some(c) => format!(
                "the victim disconnected Bea before taking the flood: {}",
                c.reason
            ),
            None => format!(
                "the victim had not taken the whole flood {} s after it was sent",
                UNTIL_HELD.as_secs()
            ),
        });
    }
    effect.valid = hashes(&changes);
    Ok(effect)
}

fn accepted(took: Option<Duration>, n: usize, closed: Option<&Closed>) -> String {
    match (took, closed) {
        (Some(t), None) => format!(
            "took all {} (valid), the last {:.1} s after the first was sent; stayed connected",
            thousands(n as u64),
            t.as_secs_f64()
        ),
        (Some(t), Some(c)) => format!(
            "took all {} in {:.1} s, then disconnected Bea ({}): {}",
            thousands(n as u64),
            t.as_secs_f64(),
            code(c),
            c.reason
        ),
        (None, Some(c)) => format!(
            "disconnected Bea ({}) before taking them all: {}",
            code(c),
            c.reason
        ),
        (None, None) => format!(
            "had not taken them all {} s after the first was sent",
            UNTIL_HELD.as_secs()
        ),
    }
}

/// Changes whose first dependency Bea never sends: 1 MiB each (`big`) or small, until the
/// victim disconnects her or the sizes run out.
async fn held(ctx: &Ctx<'_>, big: bool) -> anyhow::Result<Effect> {
    let (count, per_frame) = if big {
        (ctx.sizes.held_big, 1)
    } else {
        (ctx.sizes.held_small, ctx.sizes.held_per_frame)
    };
    // The first change is withheld; the rest all wait for it.
    let changes = bio_chain(ctx, count + 1, |i| {
        if big && i > 0 {
            incompressible(i as u64, 1024 * 1024)
        } else {
            format!("held {i}")
        }
    })?;
    let withheld = changes[0].hash();
    let sent: Vec<&[Change]> = changes[1..].chunks(per_frame).collect();
    let mut session = ctx.raw.session(ctx.target.clone(), ctx.group).await?;
    let prober = ctx.prober();
    let started = Instant::now();
    let mut effect = Effect::default();
    let (mut frames, mut held, mut bytes) = (0, 0, 0u64);
    for part in &sent {
        if session.closed_now().is_some() {
            break;
        }
        let f = frame(part, &ctx.forger.vouch(part));
        if session.send(&f).await.is_err() {
            break;
        }
        frames += 1;
        held += part.len();
        bytes += f.len() as u64;
    }
    let bound_reached = if big {
        held as u64 * 1024 * 1024 > quire_sync::held::MAX_HELD_BYTES as u64
    } else {
        held > quire_sync::held::MAX_HELD_CHANGES
    };
    let wait = if bound_reached { 30 } else { 2 };
    let closed = session.closed_within(Duration::from_secs(wait)).await;
    let took = started.elapsed();
    prober.stop().await?;
    session.hang_up();
    effect.tried = format!(
        "once: {}, {} changes, {}",
        plural(frames, "frame"),
        thousands(held as u64),
        mib(bytes)
    );
    effect.answer = match &closed {
        Some(c) => format!(
            "disconnected Bea ({}) {:.1} s after her first frame: {}",
            code(c),
            took.as_secs_f64(),
            c.reason
        ),
        None if bound_reached => "kept the connection".into(),
        None => format!(
            "held them and kept the connection ({} is below the bound)",
            thousands(held as u64)
        ),
    };
    if bound_reached && closed.is_none() {
        effect
            .failures
            .push("the victim held past its bound and kept the connection".into());
    }
    effect.forged = std::iter::once(withheld)
        .chain(hashes(&changes[1..]))
        .collect();
    Ok(effect)
}

/// `len` bytes of hex that does not compress, different for each `seed`.
fn incompressible(seed: u64, len: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = String::with_capacity(len);
    while out.len() < len {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        out.push_str(&format!("{:08x}", x >> 32));
    }
    out.truncate(len);
    out
}

/// One change of a few hundred bytes claiming `bomb_ops` ops (Bea's own bio, set to null).
async fn bomb(ctx: &Ctx<'_>) -> anyhow::Result<Effect> {
    let obj = ctx.forger.map(&["members", &ctx.ids.bea.to_string()])?;
    let (chunk, hash) = op_bomb(
        ctx.forger,
        ctx.forger.fresh_actor(),
        obj,
        "bio",
        ctx.sizes.bomb_ops,
    )?;
    let sigs = vec![(hash, ctx.forger.sign(&hash))];
    let frame = frame_of_chunks(vec![chunk.clone()], vec![hash], &sigs);
    let mut session = ctx.raw.session(ctx.target.clone(), ctx.group).await?;
    let prober = ctx.prober();
    let started = Instant::now();
    let mut effect = Effect::default();
    if let Err(e) = session.send(&frame).await {
        effect
            .failures
            .push(format!("sending the bomb failed: {e:#}"));
    }
    // Until the victim answers: it closes the connection, or it holds the change.
    let answered = loop {
        if let Some(c) = session.closed_now() {
            break Some(Err(c));
        }
        if ctx.observer.has(&hash) {
            break Some(Ok(()));
        }
        if started.elapsed() > Duration::from_secs(300) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let took = started.elapsed();
    prober.stop().await?;
    session.hang_up();
    effect.tried = format!(
        "once: a {} B change in a {} B frame",
        chunk.len(),
        frame.len()
    );
    effect.answer = match answered {
        Some(Err(c)) => format!(
            "disconnected Bea ({}) {:.1} s after the frame was sent: {}",
            code(&c),
            took.as_secs_f64(),
            c.reason
        ),
        Some(Ok(())) => format!(
            "**took it** (the rules let Bea write her bio): in its log {:.1} s after it was sent",
            took.as_secs_f64()
        ),
        None => "neither took it nor answered within 300 s".into(),
    };
    // The rules would let Bea write her own bio, but a change that claims more ops than its
    // bytes can hold must never be taken.
    effect.forged = vec![hash];
    Ok(effect)
}

/// 30000 as "30,000".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes as "3.4 MiB" (or KiB below one MiB).
pub fn mib(bytes: u64) -> String {
    let m = bytes as f64 / (1024.0 * 1024.0);
    if m >= 1.0 {
        format!("{m:.1} MiB")
    } else {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    }
}
