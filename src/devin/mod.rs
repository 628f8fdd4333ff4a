//! A typed client for the Devin REST API v3 (`../shared/devin-api-v3.md`).
//!
//! The HTTP core (authentication, organization discovery, retries, error decoding) lives in
//! [`client`]; the wire types in [`models`]; endpoints in one module per API area
//! ([`sessions`], [`attachments`]). Knowledge notes, playbooks, secrets and schedules get
//! their own modules beside these when they are added.
//!
//! This module knows nothing of MCP.

pub mod attachments;
pub mod client;
pub mod error;
pub mod models;
pub mod retry;
pub mod session_ref;
pub mod sessions;

pub use client::{ApiKey, ClientConfig, DevinClient, RetryPolicy};
pub use error::{ApiError, ApiErrorKind, DevinError};
pub use session_ref::{InvalidSessionRef, SessionRef};
