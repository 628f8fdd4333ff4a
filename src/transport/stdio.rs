//! MCP over stdio: the client launched us and talks JSON-RPC on stdin and stdout.
//!
//! Stdout carries protocol messages only; logs go to stderr. The server returns when stdin
//! closes, so that the process exits as soon as its client goes away.

use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;

use crate::mcp::DevinMcp;

/// Serves `server` on stdin/stdout until the client closes stdin.
pub async fn serve(server: DevinMcp) -> Result<(), String> {
    let running = match server.serve(rmcp::transport::stdio()).await {
        Ok(running) => running,
        // A client that closes stdin before `initialize` has simply gone: a 2026-07-28 client
        // may never send one, and a launcher may only probe the binary.
        Err(ServerInitializeError::ConnectionClosed(_)) => {
            tracing::info!("stdin closed before initialize; exiting");
            return Ok(());
        }
        Err(error) => return Err(format!("MCP handshake over stdio failed: {error}")),
    };
    tracing::info!("serving MCP over stdio");
    let reason = running
        .waiting()
        .await
        .map_err(|error| format!("stdio server failed: {error}"))?;
    tracing::info!(?reason, "stdio session ended");
    Ok(())
}
