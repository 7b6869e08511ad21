//! One attack measured: the victim's CPU and memory around it, Cal's honest edits during it,
//! and afterwards what the victim kept (its document before and after, read from its disk)
//! and whether anything forged reached Cal.

use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::ChangeHash;
use quire_store::model::Group as Model;

use crate::attacks::{self, Attack, Ctx, Effect, Forbidden, Sizes, thousands};
use crate::cast::Cast;
use crate::forge::Forger;
use crate::observer::lock;
use crate::raw::RawPeer;
use crate::victim::{RssSampler, cpu_ms, status_bytes, wait_idle};

/// What one attack cost and what came of it.
#[derive(Debug)]
pub struct Outcome {
    pub attack: Attack,
    pub name: String,
    pub effect: Effect,
    /// What the victim lost or took that it should not have, in words ("nothing").
    pub lost: String,
    /// Whether anything forged reached Cal, in words.
    pub reached_cal: String,
    /// The victim's CPU time during the attack, until it was idle again.
    pub cpu_ms: Option<u64>,
    /// The victim's resident memory before, and the most seen during the attack.
    pub rss_before: u64,
    pub rss_peak: u64,
    /// The victim process's own peak (over its whole life).
    pub hwm: Option<u64>,
    /// How long each of Cal's honest edits took to reach the victim's disk.
    pub delays: Vec<Duration>,
    /// Cal's edits that never did.
    pub never: usize,
    /// The machine's one-minute load average before and after (other jobs share it).
    pub load: (f64, f64),
}

/// The machine's one-minute load average.
pub fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Runs `attack` against the victim and measures it.
#[allow(clippy::too_many_arguments)]
pub async fn measure(
    cast: &mut Cast,
    forger: &Forger,
    dan: &Forger,
    raw: &RawPeer,
    attack: Attack,
    sizes: Sizes,
    fresh: bool,
    edits: Arc<AtomicUsize>,
) -> anyhow::Result<Outcome> {
    let name = attack.name(&sizes);
    if attack == Attack::Forbidden(Forbidden::AfterRemoval) {
        // Before the measurement: the removal is Ann's doing, not the attack.
        cast.remove_dan().await?;
    }
    if fresh || cast.victim.exited().is_some() {
        cast.restart_victim().await?;
    }
    let pid = cast
        .victim
        .pid()
        .ok_or_else(|| anyhow::anyhow!("the victim is not running"))?;
    tokio::task::spawn_blocking(move || wait_idle(pid, Duration::from_secs(20))).await?;
    let load_before = load_average();
    let since = jiff::Timestamp::now();
    let before_model = cast.observer.group().read()?;
    let before_heads = cast.observer.heads();
    let probes = cast.observer.probes();
    drop(lock(&probes).take());
    let cpu_before = cpu_ms(pid);
    let rss_before = status_bytes(pid, "VmRSS").unwrap_or(0);
    let sampler = RssSampler::start(pid);
    let log_from = cast.victim.log_len();

    let made = Arc::new(Mutex::new(Vec::new()));
    let ctx = Ctx {
        forger,
        dan,
        raw,
        observer: &cast.observer,
        ids: cast.ids,
        group: cast.group,
        target: cast.victim_addr.clone(),
        cal: cast.cal.handle(),
        probes: probes.clone(),
        sizes,
        edits,
        made: made.clone(),
    };
    let mut effect = match attacks::run(attack, &ctx).await {
        Ok(effect) => effect,
        Err(e) => Effect {
            failures: vec![format!("the attack could not be carried out: {e:#}")],
            ..Default::default()
        },
    };
    println!("  {name}: sent; waiting for the victim");

    // Every honest edit should reach the victim; then the victim should go quiet.
    let deadline = Instant::now() + sizes.edit_wait;
    while lock(&probes).in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::task::spawn_blocking(move || wait_idle(pid, Duration::from_secs(300))).await?;
    let cpu_after = cpu_ms(pid);
    let rss_peak = sampler.finish();
    let hwm = status_bytes(pid, "VmHWM");
    let errors = cast.victim.log_errors_since(log_from, 3);
    if !errors.is_empty() && !effect.failures.is_empty() {
        effect
            .failures
            .push(format!("the victim's log: {}", errors.join(" / ")));
    }
    if let Some(status) = cast.victim.exited() {
        effect.failures.push(format!(
            "the victim process died ({status}); its log ends:\n{}",
            cast.victim.log_tail(20)
        ));
    }
    let (landed, pending) = lock(&probes).take();
    let made: Vec<ChangeHash> = lock(&made).clone();
    let delays: Vec<Duration> = landed
        .iter()
        .filter(|(h, _)| made.contains(h))
        .map(|(_, d)| *d)
        .collect();

    let lost = what_was_lost(cast, &before_model, &before_heads, &made, &effect);
    let mut reached_cal = reached_cal(cast, &effect).await;
    if let Some(refused) = cal_refused_victim(cast, since).await {
        reached_cal = format!(
            "{reached_cal}; **Cal refused what the victim relayed {}**",
            times(refused.times)
        );
        effect.failures.push(refused.to_string());
    }
    if lost != "nothing" {
        effect
            .failures
            .push(format!("the victim's document: {lost}"));
    }
    if reached_cal.starts_with("**") {
        effect.failures.push(format!("Cal: {reached_cal}"));
    }
    if !pending.is_empty() {
        effect.failures.push(format!(
            "{} of Cal's honest edits never reached the victim",
            pending.len()
        ));
    }
    Ok(Outcome {
        attack,
        name,
        effect,
        lost,
        reached_cal,
        cpu_ms: cpu_before.zip(cpu_after).map(|(a, b)| b.saturating_sub(a)),
        rss_before,
        rss_peak,
        hwm,
        delays,
        never: pending.len(),
        load: (load_before, load_average()),
    })
}

/// Compares the victim's document after the attack with before: every change from before
/// is there, every honest edit of Cal's is there, no forged change is, nothing else was
/// added but Bea's valid changes, and the group reads the same but for Cal's (and, after
/// valid changes, Bea's) bio.
fn what_was_lost(
    cast: &Cast,
    before_model: &Model,
    before_heads: &[ChangeHash],
    made: &[ChangeHash],
    effect: &Effect,
) -> String {
    let group = cast.observer.group();
    let doc = group.doc();
    let mut wrong = Vec::new();
    let gone = before_heads
        .iter()
        .filter(|h| doc.get_change_meta_by_hash(h).is_none())
        .count();
    if gone > 0 {
        wrong.push(format!("**{gone} changes from before the attack gone**"));
    }
    let missing = made
        .iter()
        .filter(|h| doc.get_change_meta_by_hash(h).is_none())
        .count();
    if missing > 0 {
        wrong.push(format!(
            "**{missing} of Cal's {} edits missing**",
            made.len()
        ));
    }
    let kept = effect
        .forged
        .iter()
        .filter(|h| doc.get_change_meta_by_hash(h).is_some())
        .count();
    if kept > 0 {
        wrong.push(format!(
            "**took {kept} of the {} forged changes**",
            effect.forged.len()
        ));
    }
    let expected: HashSet<ChangeHash> = made.iter().chain(&effect.valid).copied().collect();
    let other = doc
        .get_changes_meta(before_heads)
        .iter()
        .filter(|m| !expected.contains(&m.hash))
        .count();
    if other > 0 {
        wrong.push(format!("**{other} other changes added**"));
    }
    match group.read() {
        Ok(after) => {
            let bea_changed = !effect.valid.is_empty();
            if normalized(before_model, cast, bea_changed) != normalized(&after, cast, bea_changed)
            {
                wrong.push("**the group reads differently**".into());
            }
        }
        Err(e) => wrong.push(format!("**the group no longer reads: {e}**")),
    }
    if wrong.is_empty() {
        "nothing".into()
    } else {
        wrong.join("; ")
    }
}

/// The group without what the honest edits (Cal's bio) and Bea's valid changes (her bio, her
/// pieces) wrote.
fn normalized(model: &Model, cast: &Cast, bea_too: bool) -> Model {
    let mut m = model.clone();
    for (id, member) in m.members.iter_mut() {
        if *id == cast.ids.cal || (bea_too && *id == cast.ids.bea) {
            member.profile.bio.clear();
        }
    }
    if bea_too {
        m.submissions.retain(|_, s| s.author != cast.ids.bea);
    }
    m
}

/// Cal's node refusing changes the (honest) victim relayed.
#[derive(Debug)]
struct Refused {
    /// How often (Cal's status keeps the last 32).
    times: usize,
    /// The first refusal's reason.
    first: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Cal's node refused changes the victim relayed and disconnected it ({} in Cal's \
             status, which keeps the last 32; the first: {})",
            times(self.times),
            self.first
        )
    }
}

/// "once", "3 times".
fn times(n: usize) -> String {
    if n == 1 {
        "once".into()
    } else {
        format!("{n} times")
    }
}

/// Whether Cal's node disconnected the (honest) victim for a change it relayed since `since`.
async fn cal_refused_victim(cast: &Cast, since: jiff::Timestamp) -> Option<Refused> {
    let victim = cast.ids.ann_device.to_string();
    let status = cast.cal.handle().status().await;
    let refusals: Vec<_> = status
        .groups
        .iter()
        .flat_map(|g| &g.refused)
        .filter(|r| r.device == victim && r.at >= since)
        .collect();
    let first = refusals.first()?;
    Some(Refused {
        times: refusals.len(),
        first: first.reason.clone(),
    })
}

/// Whether Cal holds any forged change ("no" is right), and how many valid ones were relayed.
async fn reached_cal(cast: &Cast, effect: &Effect) -> String {
    let count = |hashes: Vec<ChangeHash>| {
        let cal = cast.cal.handle();
        let group = cast.group;
        async move {
            cal.edit(group, move |g| {
                hashes
                    .iter()
                    .filter(|h| g.doc().get_change_meta_by_hash(h).is_some())
                    .count()
            })
            .await
            .unwrap_or(0)
        }
    };
    // Relaying is immediate; give it a moment all the same.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let forged = count(effect.forged.clone()).await;
    let valid = count(effect.valid.clone()).await;
    let mut out = if forged > 0 {
        format!("**yes: {forged} of {}**", effect.forged.len())
    } else if effect.forged.is_empty() {
        "-".to_string()
    } else {
        "no".to_string()
    };
    if !effect.valid.is_empty() {
        let relayed = format!(
            "{} of {} valid changes relayed",
            thousands(valid as u64),
            thousands(effect.valid.len() as u64)
        );
        out = if out == "-" {
            relayed
        } else {
            format!("{out}; {relayed}")
        };
    }
    out
}
