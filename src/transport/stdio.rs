//! MCP over stdio: the client launched us and talks JSON-RPC on stdin and stdout.
//!
//! Stdout carries protocol messages only; logs go to stderr. The server returns when stdin
//! closes, so that the process exits as soon as its client goes away.

use rmcp::ServiceExt;

use crate::mcp::DevinMcp;

/// Serves `server` on stdin/stdout until the client closes stdin.
pub async fn serve(server: DevinMcp) -> Result<(), String> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|error| format!("MCP handshake over stdio failed: {error}"))?;
    tracing::info!("serving MCP over stdio");
    let reason = running
        .waiting()
        .await
        .map_err(|error| format!("stdio server failed: {error}"))?;
    tracing::info!(?reason, "stdio session ended");
    Ok(())
}
