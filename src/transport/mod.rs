//! Transports: how MCP messages reach the server. They know nothing of tools.
//!
//! [`stdio`] serves the one client that launched us; [`http`] serves many over streamable
//! HTTP, with [`auth`] deciding who each request comes from.

pub mod auth;
pub mod http;
pub mod stdio;
