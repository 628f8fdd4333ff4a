//! The MCP layer: tools built on the Devin client.
//!
//! [`server`] holds the handler every transport serves; [`caller`] who calls through a shared
//! transport; [`tools`] one module per group of tools; [`prompts`] the ready-made requests a
//! user can pick; [`views`] what the tools return; [`errors`] how failures read. This layer knows
//! nothing of HTTP status codes beyond what [`errors`] turns into sentences, and nothing of
//! transports.

pub mod arguments;
pub mod call_log;
pub mod caller;
pub mod errors;
pub mod prompts;
pub mod resources;
pub mod schema_check;
pub mod server;
pub mod tasks;
pub mod tools;
pub mod views;
pub mod wait;
pub mod watch;

pub use server::DevinMcp;
