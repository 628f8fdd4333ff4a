//! A typed client for the Devin REST API v3 (`../shared/devin-api-v3.md`).

pub mod models;
pub mod session_ref;

pub use session_ref::{InvalidSessionRef, SessionRef};
