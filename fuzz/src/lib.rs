//! The fuzz harnesses, one module per target, kept apart from libFuzzer so that the workspace
//! can replay the checked-in corpus through the very same functions on every test run.
//!
//! Each harness is also compiled into `quire-sync`'s unit tests (`sync/src/fuzz_regressions.rs`
//! includes these files by path). So the harnesses name `quire-sync`'s modules as `crate::…`,
//! which this crate provides by re-exporting them at its root, and their siblings as
//! `super::…`.
//!
//! A harness must not panic, whatever the input; what it asserts are invariants of our code.

pub use quire_sync::{
    bootstrap, envelope, frame, saved_check, session, signing, sync_check, ticket, verify, wire,
};

pub mod fixtures;
pub mod frames;
pub mod handshake;
pub mod hostile_document;
pub mod load_chunks;
pub mod saved_document;
pub mod sync_message;
pub mod tickets;
