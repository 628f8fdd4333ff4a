//! Transports: how MCP messages reach the server. They know nothing of tools.

pub mod stdio;
