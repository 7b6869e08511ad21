//! The command line: global flags and one subcommand per thing a member does.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Quire: a home for writing and critique groups that lives on your own devices.
#[derive(Debug, Parser)]
#[command(name = "quire", version, about, long_about = None)]
pub struct Cli {
    /// Where groups and this device's key are kept [default: the platform data dir].
    #[arg(long, global = true, env = "QUIRE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// The group to act on, by name or id prefix; needed only when the data dir holds several.
    #[arg(long, global = true, env = "QUIRE_GROUP", value_name = "NAME|ID")]
    pub group: Option<String>,

    /// Print listings as JSON, for scripts.
    #[arg(long, global = true)]
    pub json: bool,

    /// Relays for reaching peers behind NATs: `default` (n0's public relays and address
    /// lookup), `off` (direct and LAN only), or the URL of a self-hosted iroh-relay.
    #[arg(
        long,
        global = true,
        env = "QUIRE_RELAY",
        default_value = "default",
        value_name = "default|off|URL"
    )]
    pub relay: quire_sync::RelayChoice,

    /// Find peers on the local network by mDNS.
    #[arg(long, global = true, env = "QUIRE_MDNS", default_value_t = true, action = clap::ArgAction::Set, value_name = "true|false")]
    pub mdns: bool,

    /// What to do; with none, the desktop client opens.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Everything `quire` does headless.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a group; you become its organizer and first member.
    Init(InitArgs),
    /// List the groups in this data dir.
    Groups,
    /// Edit your own profile.
    Profile(ProfileArgs),
    /// List the members, optionally filtered.
    Members(MembersArgs),
    /// Show one member's profile.
    Member {
        /// A display name, pen name or id prefix.
        who: String,
    },
    /// Submit a piece for critique; prints its id.
    Submit(SubmitArgs),
    /// List the critique queue.
    Queue,
    /// What needs you: critiques of your pieces, your claims and when they lapse, new pieces
    /// in your genres, thanks and tips (unread ones marked `*`, a claim about to lapse `!`).
    Inbox {
        /// Mark every unread item shown as read.
        #[arg(long)]
        mark_read: bool,
    },
    /// Show a submission with its critiques.
    Show {
        /// Submission id or unique prefix.
        id: String,
    },
    /// Withdraw one of your submissions.
    Withdraw {
        /// Submission id or unique prefix.
        id: String,
    },
    /// Claim a submission to critique.
    Claim {
        /// Submission id or unique prefix.
        id: String,
    },
    /// Give up your claim on a submission.
    Unclaim {
        /// Submission id or unique prefix.
        id: String,
    },
    /// Deliver a critique of a submission you claimed; prints its id.
    Critique(CritiqueArgs),
    /// Rate a critique of your piece, 1 to 5.
    Rate {
        /// Critique id or unique prefix.
        critique: String,
        /// 1 (not useful) to 5 (invaluable).
        rating: u8,
    },
    /// Thank the reviewer for a critique of your piece.
    Thank {
        /// Critique id or unique prefix.
        critique: String,
    },
    /// Tip the reviewer of a critique of your piece a credit (the group's tip rule).
    Tip {
        /// Critique id or unique prefix.
        critique: String,
    },
    /// Your credits, entry by entry (or another member's).
    Ledger {
        /// A display name, pen name or id prefix [default: you].
        #[arg(long)]
        member: Option<String>,
    },
    /// What you could critique next, and why.
    Next,
    /// Show the group's rules, or change them (organizers only).
    Rules {
        /// A rule to change, as key=value; repeat for several.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
    },
    /// Who did what, newest first.
    Activity {
        /// Only changes on or after this day, YYYY-MM-DD.
        #[arg(long)]
        since: Option<String>,
    },
    /// Export the roster and the queue.
    Export(ExportArgs),
    /// Print changes to the group as they arrive from other processes, until interrupted.
    Watch,
    /// Rewrite the group's files into one compact snapshot.
    Compact,
    /// Open the desktop client on a generated demo group (in a new folder unless --data-dir).
    Demo(DemoArgs),
    /// Print a ticket that lets someone join the group (or link another device of yours).
    Invite(InviteArgs),
    /// Join a group with a ticket from a member.
    Join(JoinArgs),
    /// Keep every group in this data dir in sync with its members' devices, until stopped.
    Serve(ServeArgs),
    /// This device's id and addresses, and the sync state of every member device.
    Status,
    /// Remove a member from the group (organizers only); their devices are refused from now on.
    RemoveMember {
        /// A display name, pen name or id prefix.
        who: String,
    },
}

/// `quire invite`
#[derive(Debug, Args)]
pub struct InviteArgs {
    /// How long the ticket works: a number and m, h, d or w (e.g. 7d, 12h, 30m).
    #[arg(long, default_value = "7d")]
    pub expires: String,
    /// How many devices may use it.
    #[arg(long, default_value_t = 1)]
    pub uses: u32,
    /// Link another device of yours instead of inviting a new member.
    #[arg(long)]
    pub device: bool,
    /// Also write the ticket's QR code to this file, as a PNG picture to send.
    #[arg(long, value_name = "FILE")]
    pub qr: Option<std::path::PathBuf>,
}

/// `quire join`
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The ticket, as printed by `quire invite` (or give --qr).
    #[arg(required_unless_present = "qr")]
    pub ticket: Option<String>,
    /// Read the ticket from a picture of its QR code (PNG or JPEG).
    #[arg(long, value_name = "FILE", conflicts_with = "ticket")]
    pub qr: Option<std::path::PathBuf>,
    /// Your name in the group (for a member ticket; leave out when linking a device).
    #[arg(long)]
    pub me: Option<String>,
    /// A name for this device [default: the host name].
    #[arg(long)]
    pub device_label: Option<String>,
}

/// `quire serve`
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen on this address and port (e.g. 0.0.0.0:7400) instead of an ephemeral port.
    #[arg(long, value_name = "ADDR:PORT")]
    pub bind: Option<std::net::SocketAddr>,
    /// Raise no desktop notifications (they are on by default, as your personal document's
    /// setting says; a headless device has nowhere to show them).
    #[arg(long)]
    pub no_notify: bool,
}

/// `quire demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Only create the demo group and print its data dir; open no window.
    #[arg(long)]
    pub no_window: bool,
    /// Open on this view: queue, next, roster, submit, ledger, activity, rules, profile,
    /// submission (the piece you claimed), member or invite.
    #[arg(long)]
    pub view: Option<String>,
}

/// `quire init`
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The group's name.
    #[arg(long)]
    pub name: String,
    /// Your name in the group.
    #[arg(long)]
    pub me: String,
    /// What the group is about.
    #[arg(long, default_value = "")]
    pub description: String,
    /// A name for this device [default: the host name].
    #[arg(long)]
    pub device_label: Option<String>,
}

/// `quire profile`
#[derive(Debug, Args)]
pub struct ProfileArgs {
    /// Your display name.
    #[arg(long)]
    pub name: Option<String>,
    /// The name you publish under ("" clears it).
    #[arg(long)]
    pub pen_name: Option<String>,
    /// Genres, comma separated ("" clears them).
    #[arg(long)]
    pub genres: Option<String>,
    /// Roles, comma separated: writer, beta-reader, critique-partner, accountability-partner, mentor.
    #[arg(long)]
    pub roles: Option<String>,
    /// A few lines about you.
    #[arg(long)]
    pub bio: Option<String>,
    /// Links as label=url, comma separated ("" clears them).
    #[arg(long)]
    pub links: Option<String>,
    /// Critiques you mean to give per month ("none" clears it).
    #[arg(long)]
    pub capacity: Option<String>,
    /// On hiatus until this day, YYYY-MM-DD ("none" ends it).
    #[arg(long)]
    pub hiatus_until: Option<String>,
}

/// `quire members`
#[derive(Debug, Args)]
pub struct MembersArgs {
    /// Only members with this genre.
    #[arg(long)]
    pub genre: Option<String>,
    /// Only members with this role.
    #[arg(long)]
    pub role: Option<String>,
    /// Include removed members.
    #[arg(long)]
    pub all: bool,
}

/// `quire submit`
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The piece's title.
    #[arg(long)]
    pub title: String,
    /// Its genre.
    #[arg(long)]
    pub genre: String,
    /// Read the text from this file [default: standard input].
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Critiques wanted [default: the group's rule].
    #[arg(long)]
    pub wanted: Option<u32>,
    /// Critiques wanted by this day, YYYY-MM-DD.
    #[arg(long)]
    pub due: Option<String>,
    /// What you want feedback on.
    #[arg(long, default_value = "")]
    pub feedback: String,
    /// Content notes for readers.
    #[arg(long, default_value = "")]
    pub notes: String,
}

/// `quire critique`
#[derive(Debug, Args)]
pub struct CritiqueArgs {
    /// Submission id or unique prefix.
    pub id: String,
    /// Read the critique from this file [default: standard input].
    #[arg(long)]
    pub file: Option<PathBuf>,
}

/// `quire export`
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Json)]
    pub format: ExportFormat,
    /// Write here instead of standard output (for csv: a directory, created if needed).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Formats `quire export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Everything, machine readable.
    Json,
    /// members.csv, submissions.csv and critiques.csv.
    Csv,
    /// One readable document: roster, then each submission with its critiques.
    Md,
}
