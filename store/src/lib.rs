//! `quire-store`: a critique group's shared document, its rules, and its safe keeping on disk.
//!
//! # The model
//! A group is one [automerge] document that every member's device holds in full. Everything with
//! identity (members, submissions, claims, critiques) lives in a map keyed by its id, never in a
//! list, so concurrent edits on different devices merge without duplicates or reordering.
//!
//! ```text
//! schema: 2
//! group:       { id, name, description, created_at, created_by, rules: { .. },
//!                rule_changes: { RuleChangeId: { at, by, values: { key: "value" } } } }
//! members:     { MemberId: { display_name, pen_name, bio, genres, roles, links, capacity_per_month,
//!                            hiatus_until, organizer, joined_at, removed_at,
//!                            devices: { DeviceId: { label, added_at } } } }
//! invites:     { InviteHash: { created_by, created_at, expires_at, max_uses,
//!                              kind: "member" | "device", for_member, uses: { DeviceId: at } } }
//! submissions: { SubmissionId: { author, title, genre, word_count, text, feedback_wanted,
//!                                content_notes, submitted_at, due_at, critiques_wanted, withdrawn_at,
//!                                claims:    { MemberId: { at, expires_at, released_at } },
//!                                critiques: { CritiqueId: { reviewer, body, word_count,
//!                                                           delivered_at, rating, thanked_at,
//!                                                           tipped_at } } } }
//! ```
//!
//! * [`model`] holds the plain Rust types; [`doc`] is the one place that maps them to and from
//!   the document.
//! * [`ops`] are the typed operations (submit, claim, critique, ...). Each validates against the
//!   current document and either writes one automerge change or fails with a one-line
//!   [`OpError`] naming the bad value, writing nothing. Time and new ids are arguments, so the
//!   operations are deterministic and testable without a clock.
//! * [`views`] are derived, never stored: queue status and who holds a claim are pure functions
//!   of the document and the current time, so every peer with the same heads computes the same
//!   answer.
//! * [`exchange`] derives the critique exchange the same way: credit ledgers, the rules in
//!   force at any time, suggestions of what to critique next, reliability and activity.
//! * [`storage`] keeps a group durable: a compacted snapshot plus per-process append-only change
//!   logs, fsynced before an edit is acknowledged, safe with several processes on one data dir.
//! * [`signatures`] keeps the newest signature of each actor's changes; storage writes them in
//!   the same log records as the changes they vouch for.
//! * [`Group`] ties them together: an open group on disk, acting as one device.
//! * [`view_cache`] keeps a group's model beside its files, valid for exactly the files it was
//!   read from, so a client can show a large group at once while its document loads.
#![warn(missing_docs)]

pub mod authority;
pub mod doc;
pub mod documents;
mod error;
pub mod exchange;
mod group;
pub mod ids;
pub mod inbox;
pub mod live_view;
pub mod model;
pub mod ops;
pub mod personal;
mod serde_time;
pub mod signatures;
pub mod storage;
pub mod text;
pub mod view_cache;
pub mod views;

pub use error::{Error, OpError};
pub use group::{Group, device_of_actor, session_actor};
pub use ids::{
    CritiqueId, DeviceId, GroupId, IdParseError, InviteHash, MemberId, RuleChangeId, SubmissionId,
};
pub use signatures::{ChangeSignature, SignatureBook, SignatureDecodeError};
