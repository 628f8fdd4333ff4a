//! MCP over stdio: the client launched us and talks JSON-RPC on stdin and stdout.
//!
//! Stdout carries protocol messages only; logs go to stderr. The server returns when stdin
//! closes, so that the process exits as soon as its client goes away: waits in flight are
//! told to answer at once, instead of holding the process for rmcp's grace period.

use std::future::Future;

use rmcp::model::ClientJsonRpcMessage;
use rmcp::service::{RxJsonRpcMessage, ServerInitializeError, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::transport::async_rw::AsyncRwTransport;
use rmcp::{RoleServer, ServiceExt};

use crate::mcp::DevinMcp;

/// Serves `server` on stdin/stdout until the client closes stdin.
pub async fn serve(server: DevinMcp) -> Result<(), String> {
    // When stdin and stdout are pipes, as a launching client makes them, they are read and
    // written on the IO reactor rather than through tokio's blocking threads: one cross-thread
    // hand-off less per message. Anything else falls back to the ordinary handles. (Must run
    // inside a runtime with IO enabled, which `main` builds.)
    let (read, write) = rmcp::transport::stdio_pipes();
    let transport = StdioTransport {
        inner: AsyncRwTransport::new_server(read, write),
        requested: false,
        server: server.clone(),
    };
    let running = match server.serve(transport).await {
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

/// Line-delimited JSON-RPC on stdin/stdout, with two things rmcp's own transport lacks:
///
/// - Notifications that arrive before the client's first request are dropped. rmcp treats
///   any message but a request as a failed handshake and ends the process; a client that
///   sends `notifications/initialized` or `notifications/cancelled` too early does not
///   deserve that, and the notification means nothing before a request anyway.
/// - End of input shuts the server down at once (see [`DevinMcp::shut_down`]).
struct StdioTransport<T> {
    inner: T,
    /// A request has been received, so rmcp's service loop, not its handshake, reads now.
    requested: bool,
    server: DevinMcp,
}

impl<T> Transport<RoleServer> for StdioTransport<T>
where
    T: Transport<RoleServer>,
{
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            match self.inner.receive().await {
                None => {
                    self.server.shut_down();
                    return None;
                }
                Some(ClientJsonRpcMessage::Notification(_)) if !self.requested => {
                    tracing::debug!("a notification before the first request was dropped");
                }
                Some(message) => {
                    self.requested |= matches!(message, ClientJsonRpcMessage::Request(_));
                    return Some(message);
                }
            }
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
