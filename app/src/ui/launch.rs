//! Opening the window: on the user's data dir, or on a demo group.

use std::path::PathBuf;

use super::{Launch, View};
use crate::backend::{data, demo};

/// Opens the desktop client on `data_dir` (default: the platform data dir).
pub fn open(
    data_dir: Option<PathBuf>,
    relay: quire_sync::RelayChoice,
    mdns: bool,
) -> anyhow::Result<()> {
    let data_dir = match data_dir {
        Some(dir) => dir,
        None => data::default_data_dir()?,
    };
    super::run(Launch {
        data_dir,
        title: "Quire".into(),
        view: None,
        sync: true,
        invite: false,
        relay,
        mdns,
        bind: None,
    })
}

/// Creates a demo group (in a new folder under the temp dir unless `data_dir` is given; a
/// data dir that already holds groups is used as it is) and opens the client on it.
///
/// The demo runs a sync node on this machine only (loopback: no relay, no mDNS), so its invite
/// tickets work for a second client or `quire join` on the same machine and nothing of the
/// demo leaves it. The view `invite` opens the queue with the invite dialog on a fresh ticket.
pub fn demo(data_dir: Option<PathBuf>, no_window: bool, view: Option<&str>) -> anyhow::Result<()> {
    let invite = view.is_some_and(|v| v.trim().eq_ignore_ascii_case("invite"));
    let view = match view {
        _ if invite => Some(View::Queue),
        Some(name) => Some(parse_view(name)?),
        None => None,
    };
    let root = match data_dir {
        Some(dir) => dir,
        None => std::env::temp_dir().join(format!(
            "quire-demo-{}",
            &quire_store::GroupId::random().short()
        )),
    };
    let (store, device) = data::open(&root)?;
    if store.group_ids()?.is_empty() {
        demo::create(&store, device, jiff::Timestamp::now())?;
    }
    eprintln!("demo group in `{}`", root.display());
    if no_window {
        println!("{}", root.display());
        return Ok(());
    }
    super::run(Launch {
        data_dir: root,
        title: "Quire — demo".into(),
        view,
        sync: true,
        invite,
        relay: quire_sync::RelayChoice::Off,
        mdns: false,
        bind: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
    })
}

/// A view named on the command line.
pub fn parse_view(name: &str) -> anyhow::Result<View> {
    Ok(match name.trim().to_lowercase().as_str() {
        "queue" => View::Queue,
        "for-you" | "inbox" => View::ForYou,
        "next" => View::Next,
        "roster" => View::Roster,
        "submit" => View::Submit,
        "ledger" => View::Ledger,
        "activity" => View::Activity,
        "rules" => View::Rules,
        "profile" => View::Profile,
        "submission" => View::Submission(super::CLAIMED.into()),
        "member" => View::Member(super::SOMEONE.into()),
        other => anyhow::bail!(
            "no view `{other}`; views are for-you, queue, next, roster, submit, ledger, activity, \
             rules, profile, submission, member (and, in the demo, invite)"
        ),
    })
}
