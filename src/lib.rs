//! devin-mcp: an MCP server that lets coding agents delegate work to Devin.

pub mod devin;
pub mod sim;
