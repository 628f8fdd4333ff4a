//! devin-mcp: an MCP server that lets coding agents delegate work to Devin.
//!
//! The crate is split by concern, and each layer knows only the one below it:
//!
//! - [`devin`]: a typed client for the Devin REST API v3. Knows nothing of MCP.
//! - [`sim`]: a simulator of that API, to try the server with no key and to test it.
//! - [`mcp`]: the MCP tools, built on the client. Knows nothing of transports.
//! - [`transport`]: stdio and streamable HTTP. Knows nothing of tools.
//! - [`cli`], [`config`] and [`logging`]: what `main.rs` needs to start a process.

pub mod cli;
pub mod config;
pub mod devin;
pub mod logging;
pub mod mcp;
pub mod sim;
pub mod transport;
