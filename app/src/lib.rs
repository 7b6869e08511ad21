//! The desktop client of Quire, as a library so its tests and benchmarks can drive it.
//!
//! * [`backend`]: a thread with its own tokio runtime that owns the open groups; the UI talks
//!   to it only through [`backend::Command`]s out and [`backend::Event`]s in.
//! * [`ui`]: the egui app, which drains the backend's events once per frame and never waits
//!   on disk or network.

pub mod backend;
pub mod ui;
