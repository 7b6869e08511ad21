//! `invite`, `join`, `serve`, `status`, `remove-member`: the group across devices.

use anyhow::{Context as _, bail};
use iroh::{EndpointAddr, TransportAddr};
use jiff::SignedDuration;
use quire_store::{doc, ops};
use quire_sync::status::NodeStatus;
use quire_sync::{
    InviteOptions, Node, NodeConfig, RelayChoice, SyncEvent, Ticket, TicketKind, create_ticket,
    endpoint_of, node_running,
};

use super::{Output, now, when};
use crate::cli::{InviteArgs, JoinArgs, ServeArgs};
use crate::context::{Context, host_label};
use crate::out::say;

/// How this process reaches the network.
#[derive(Debug, Clone)]
pub struct Net {
    /// Relays and public lookup.
    pub relay: RelayChoice,
    /// LAN discovery.
    pub mdns: bool,
}

impl Net {
    fn config(&self, ctx: &Context) -> NodeConfig {
        NodeConfig {
            data_dir: ctx.data.root().to_path_buf(),
            relay: self.relay.clone(),
            mdns: self.mdns,
            bind: None,
            storage: Default::default(),
            fanout: Default::default(),
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A duration typed as a number and a unit: `7d`, `12h`, `30m`, `2w`.
fn parse_duration(text: &str) -> anyhow::Result<SignedDuration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: i64 = number
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .with_context(|| format!("`{text}` is not a duration like 7d, 12h or 30m"))?;
    let minutes = match unit {
        "m" => 1,
        "h" => 60,
        "d" => 24 * 60,
        "w" => 7 * 24 * 60,
        _ => bail!("`{text}` is not a duration like 7d, 12h or 30m (units: m, h, d, w)"),
    };
    let total = n
        .checked_mul(minutes)
        .filter(|m| *m <= 366 * 24 * 60)
        .with_context(|| format!("`{text}` is longer than a year"))?;
    Ok(SignedDuration::from_mins(total))
}

/// Where peers can reach this device: the running node's addresses, or the last ones a node
/// of this data dir had.
fn my_addr(ctx: &Context) -> anyhow::Result<EndpointAddr> {
    let id = endpoint_of(ctx.device).context("this device's key is not a valid endpoint id")?;
    let mut addr = EndpointAddr::new(id);
    if let Some(status) = NodeStatus::load(ctx.data.root()) {
        let ips = status
            .addrs
            .iter()
            .filter_map(|a| a.parse().ok())
            .map(TransportAddr::Ip);
        addr = addr.with_addrs(ips);
        if let Some(relay) = status.relay.and_then(|r| r.parse().ok()) {
            addr = addr.with_relay_url(relay);
        }
    }
    Ok(addr)
}

pub fn invite(ctx: &Context, args: InviteArgs) -> anyhow::Result<()> {
    if args.uses == 0 {
        bail!("--uses must be at least 1");
    }
    let options = InviteOptions {
        kind: if args.device {
            TicketKind::Device
        } else {
            TicketKind::Member
        },
        valid_for: parse_duration(&args.expires)?,
        max_uses: args.uses,
    };
    let mut group = ctx.open_group()?;
    let ticket = create_ticket(&mut group, my_addr(ctx)?, options, now())?;
    if let Some(path) = &args.qr {
        quire::backend::qr_picture::write_picture(&ticket.to_string(), path)
            .map_err(anyhow::Error::msg)?;
        eprintln!("wrote the ticket's QR code to `{}`", path.display());
    }
    if !node_running(ctx.data.root()) {
        eprintln!(
            "note: no `quire serve` or desktop client runs on this data dir; the ticket works only while one does"
        );
    }
    eprintln!(
        "{} to `{}`, valid until {}, {} use{}:",
        match options.kind {
            TicketKind::Member => "invite",
            TicketKind::Device => "device link",
        },
        group.name(),
        when(ticket.expires_at),
        options.max_uses,
        if options.max_uses == 1 { "" } else { "s" }
    );
    say!("{ticket}");
    Ok(())
}

pub fn join(ctx: &Context, net: &Net, args: JoinArgs) -> anyhow::Result<()> {
    let text = match (&args.ticket, &args.qr) {
        (_, Some(picture)) => {
            quire::backend::qr_picture::ticket_from_picture(picture).map_err(anyhow::Error::msg)?
        }
        (Some(ticket), None) => ticket.clone(),
        (None, None) => bail!("give the ticket, or --qr FILE with a picture of its QR code"),
    };
    let ticket: Ticket = text.parse()?;
    if ticket.is_expired(now()) {
        bail!(
            "this ticket expired at {}; ask for a new one",
            when(ticket.expires_at)
        );
    }
    let config = net.config(ctx);
    let label = args.device_label.unwrap_or_else(host_label);
    let joined = runtime()?.block_on(async {
        let endpoint = quire_sync::bind_endpoint(&config).await?;
        let result = quire_sync::join::join(
            &endpoint,
            &ctx.data,
            config.storage,
            &ticket,
            args.me,
            label,
        )
        .await;
        endpoint.close().await;
        result
    })?;
    say!(
        "joined `{}` ({}) as {}",
        joined.name,
        joined.group,
        joined.display_name
    );
    Ok(())
}

pub fn serve(ctx: &Context, net: &Net, args: ServeArgs, out: Output) -> anyhow::Result<()> {
    let mut config = net.config(ctx);
    config.bind = args.bind;
    runtime()?.block_on(async {
        let node = Node::spawn(config).await?;
        let handle = node.handle();
        let addr = handle.addr();
        let addrs: Vec<String> = addr.ip_addrs().map(|a| a.to_string()).collect();
        say!(
            "serving as {} on {}; Ctrl-C to stop",
            handle.device(),
            if addrs.is_empty() {
                "no direct address".to_string()
            } else {
                addrs.join(", ")
            }
        );
        let mut events = handle.subscribe();
        // Notifications: each group's inbox is looked at once now (what is there is not
        // news), then at most every couple of seconds while peers change it, and every few
        // minutes anyway (claims lapse with time).
        let mut notices = (!args.no_notify).then(super::notices::ServeNotices::default);
        let mut due: std::collections::BTreeSet<quire_store::GroupId> = ctx
            .data
            .group_ids()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let mut every = tokio::time::interval(std::time::Duration::from_secs(2));
        let mut looks = 0u64;
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .context("cannot listen for SIGTERM")?;
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = terminate.recv() => break,
                _ = every.tick(), if notices.is_some() => {
                    looks += 1;
                    if looks.is_multiple_of(150) {
                        due.extend(ctx.data.group_ids().unwrap_or_default());
                    }
                    if let Some(notices) = &mut notices {
                        for group in std::mem::take(&mut due) {
                            notices.look(&handle, group).await;
                        }
                    }
                }
                event = events.recv() => match event {
                    Ok(event) => {
                        report(&event, &names(&handle, &event).await, out);
                        match event {
                            SyncEvent::DocumentChanged { group, from_peer: true, .. }
                            | SyncEvent::PersonalChanged { group, .. }
                            | SyncEvent::GroupAdded { group } => {
                                due.insert(group);
                            }
                            _ => {}
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        tracing::warn!(missed = n, "too many events to print");
                    }
                    Err(_) => break,
                },
            }
        }
        say!("stopping");
        node.shutdown().await;
        anyhow::Ok(())
    })
}

/// "Ben Okafor's laptop (d2150d5a45) in Tuesday Writers", as far as the node knows.
async fn names(handle: &quire_sync::NodeHandle, event: &SyncEvent) -> Names {
    let (group, device) = match event {
        SyncEvent::PeerConnected { group, device }
        | SyncEvent::PeerDisconnected { group, device, .. }
        | SyncEvent::ChangeRefused { group, device, .. } => (Some(*group), Some(*device)),
        SyncEvent::GroupAdded { group } => (Some(*group), None),
        SyncEvent::Refused { device, .. } => (None, Some(*device)),
        SyncEvent::DocumentChanged { .. } | SyncEvent::PersonalChanged { .. } => {
            return Names::default();
        }
    };
    let status = handle.status().await;
    let mut names = Names {
        device: device.map(|d| d.short()).unwrap_or_default(),
        group: group.map(|g| g.short()).unwrap_or_default(),
    };
    let Some(g) = group.and_then(|g| status.groups.iter().find(|s| s.id == g.to_string())) else {
        return names;
    };
    names.group = g.name.clone();
    if let Some(p) = device.and_then(|d| g.peers.iter().find(|p| p.device == d.to_string())) {
        names.device = format!("{}'s {} ({})", p.member, p.label, &p.device[..10]);
    }
    names
}

/// How a log line names a device and a group.
#[derive(Debug, Default)]
struct Names {
    device: String,
    group: String,
}

/// One line per event worth a user's attention.
fn report(event: &SyncEvent, names: &Names, out: Output) {
    let Names { device, group } = names;
    let line = match event {
        SyncEvent::PeerConnected { .. } => format!("{device} connected in {group}"),
        SyncEvent::PeerDisconnected { reason, .. } => {
            format!("{device} disconnected in {group}: {reason}")
        }
        SyncEvent::Refused { reason, .. } => format!("refused {device}: {reason}"),
        SyncEvent::ChangeRefused { reason, .. } => {
            format!("refused a change from {device} in {group} and disconnected it: {reason}")
        }
        SyncEvent::GroupAdded { .. } => format!("syncing {group}"),
        SyncEvent::DocumentChanged { .. } | SyncEvent::PersonalChanged { .. } => return,
    };
    if out.json {
        say!(
            "{}",
            serde_json::json!({ "at": now().to_string(), "event": line })
        );
    } else {
        say!("{}  {line}", when(now()));
    }
}

pub fn status(ctx: &Context, out: Output) -> anyhow::Result<()> {
    let running = node_running(ctx.data.root());
    let mut status = NodeStatus::load(ctx.data.root()).filter(|_| running);
    if status.is_none() {
        status = Some(offline_status(ctx)?);
    }
    let status = status.expect("set above");
    if out.json {
        let mut value = serde_json::to_value(&status)?;
        value["online"] = running.into();
        say!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    say!("device:  {}", status.device);
    if running {
        say!(
            "online:  {}",
            if status.addrs.is_empty() {
                "no direct address".into()
            } else {
                status.addrs.join(", ")
            }
        );
        if let Some(relay) = &status.relay {
            say!("relay:   {relay}");
        }
    } else {
        say!("offline: no `quire serve` or desktop client runs on this data dir");
    }
    for group in &status.groups {
        say!();
        say!("{} ({})", group.name, &group.id[..8.min(group.id.len())]);
        if group.peers.is_empty() {
            say!("  no other member devices yet; invite someone with `quire invite`");
        }
        for peer in &group.peers {
            let state = if peer.connected {
                "connected"
            } else {
                "not connected"
            };
            let sync = match peer.distance {
                quire_sync::session::Distance::InSync => "in sync".to_string(),
                quire_sync::session::Distance::Apart { they_lack, we_lack } => {
                    format!("apart: they lack {they_lack} changes, we lack {we_lack} heads")
                }
                quire_sync::session::Distance::Unknown => "not synced yet".to_string(),
            };
            let seen = peer.last_seen.map(when).unwrap_or_else(|| "never".into());
            let synced = peer.last_synced.map(when).unwrap_or_else(|| "never".into());
            say!(
                "  {:<20} {:<16} {:<14} {}  last seen {}, last synced {}",
                peer.member,
                peer.label,
                state,
                sync,
                seen,
                synced
            );
        }
        for refused in &group.refused {
            say!(
                "  refused {} ({}) at {}: {}",
                refused.member.as_deref().unwrap_or("a device"),
                &refused.device[..10.min(refused.device.len())],
                when(refused.at),
                refused.reason
            );
        }
    }
    Ok(())
}

/// What can be told without a running node: the member devices of each group, none
/// connected, with what the last node knew of them.
fn offline_status(ctx: &Context) -> anyhow::Result<NodeStatus> {
    let last = NodeStatus::load(ctx.data.root());
    let mut groups = Vec::new();
    for id in ctx.data.group_ids()? {
        let Ok(group) = quire_store::Group::open(&ctx.data, id, ctx.device, Default::default())
        else {
            continue;
        };
        let mut skipped = Vec::new();
        let members = doc::read_members(group.doc(), &mut skipped)?;
        let known = last
            .as_ref()
            .and_then(|s| s.groups.iter().find(|g| g.id == id.to_string()));
        let mut peers = Vec::new();
        for (device, member) in doc::current_devices(group.doc()) {
            if device == ctx.device {
                continue;
            }
            let before =
                known.and_then(|g| g.peers.iter().find(|p| p.device == device.to_string()));
            let m = members.get(&member);
            peers.push(quire_sync::status::PeerStatus {
                device: device.to_string(),
                member: m
                    .map(|m| m.profile.display_name.clone())
                    .unwrap_or_default(),
                label: m
                    .and_then(|m| m.devices.get(&device))
                    .map(|d| d.label.clone())
                    .unwrap_or_default(),
                connected: false,
                last_seen: before.and_then(|p| p.last_seen),
                last_synced: before.and_then(|p| p.last_synced),
                distance: before
                    .map(|p| p.distance)
                    .unwrap_or(quire_sync::session::Distance::Unknown),
            });
        }
        groups.push(quire_sync::status::GroupStatus {
            id: id.to_string(),
            name: group.name(),
            heads: group
                .doc()
                .get_heads()
                .iter()
                .map(|h| h.to_string())
                .collect(),
            peers,
            refused: known.map(|g| g.refused.clone()).unwrap_or_default(),
        });
    }
    Ok(NodeStatus {
        device: ctx.device.to_string(),
        addrs: Vec::new(),
        relay: None,
        pid: std::process::id(),
        updated_at: now(),
        groups,
    })
}

pub fn remove_member(ctx: &Context, who: &str) -> anyhow::Result<()> {
    let mut group = ctx.open_group()?;
    let model = group.read()?;
    let id = ops::resolve_member(&model, who)?;
    let removed = group.act(|doc, me| ops::remove_member(doc, me, id, now()))?;
    say!(
        "removed {} from `{}`; their devices are refused from now on",
        removed.profile.display_name,
        group.name()
    );
    Ok(())
}
