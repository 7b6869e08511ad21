//! The critique exchange: credits, the group's rules over time, what to critique next, and
//! how reliable each reviewer is.
//!
//! Everything here is a pure function of the [`crate::model::Group`] (and, where time
//! matters, `now`), so every peer holding the same document computes the same balances and
//! suggestions, and each figure can be explained entry by entry.
//!
//! * [`credits`]: the half-credit unit and what a critique earns.
//! * [`rules`]: rule keys and values, and folding rule changes in `(at, id)` order.
//! * [`ledger`]: every member's balance, entry by entry.
//! * [`suggest`]: what a member should critique next, and why.
//! * [`reliability`]: claims kept, critiques given and received, and who critiqued whom.
//! * [`activity`]: the document's history as who did what, when.

pub mod activity;
pub mod credits;
pub mod ledger;
pub mod reliability;
pub mod rules;
pub mod suggest;

pub use credits::Credits;
