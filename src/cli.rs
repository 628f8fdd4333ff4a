//! The command line: what `devin-mcp --help` shows.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// devin-mcp: delegate coding tasks to Devin from any MCP client.
///
/// Without a command, serves MCP over stdio, as editors and agents expect when they launch
/// it. Configuration comes from the environment (DEVIN_API_KEY, DEVIN_ORG_ID,
/// DEVIN_API_BASE_URL) and from a .env file in the working directory.
#[derive(Debug, Parser)]
#[command(name = "devin-mcp", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub serve: ServeArgs,
}

/// What to run.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve MCP over stdio (the default).
    Stdio,
    /// Serve MCP over streamable HTTP at /mcp, for a team, CI jobs and remote agents.
    ///
    /// Needs a bearer token: DEVIN_MCP_TOKEN, or --tokens FILE for one token per person or
    /// bot. Stateless by default, so replicas can sit behind a load balancer.
    Http(HttpArgs),
    /// Run the Devin API simulator on its own, for scripts and other clients.
    ///
    /// Prints its base URL, a demo key and an org id to stderr. It simulates Devin; it is
    /// not Devin, and no task is really done.
    Sim {
        /// Address to listen on; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:8788")]
        listen: SocketAddr,
    },
}

/// Options shared by the server commands, accepted before or after the command name.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Serve against a built-in simulator of the Devin API instead of Devin: no key, no
    /// network, nothing billed. For trying the server and for demos.
    #[arg(long, global = true)]
    pub sim: bool,
}

/// Options of `devin-mcp http`.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8787")]
    pub listen: SocketAddr,

    /// TOML file with one [[token]] entry per person or bot (name, token or token_sha256,
    /// optional devin_user_id and read_only). Instead of DEVIN_MCP_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub tokens: Option<PathBuf>,

    /// Serve without authentication. Only allowed on a loopback address, and with neither a
    /// non-loopback --allowed-host nor any --allowed-origin.
    #[arg(long)]
    pub no_auth: bool,

    /// A Host this server answers to besides loopback ones: NAME (any port) or NAME:PORT.
    /// Repeat for several.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,

    /// A browser origin allowed besides loopback ones, e.g. https://app.example.com.
    /// Repeat for several.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,

    /// Keep MCP sessions (Mcp-Session-Id) on this server, for clients that need them. Without
    /// it the server is stateless and any replica can answer any request.
    #[arg(long)]
    pub sessions: bool,

    /// With --sessions: seconds a session may stay without requests before it is closed, so
    /// that clients which vanish without ending their session hold no memory.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub session_idle_timeout: u64,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Seconds that requests in flight may take to finish after SIGTERM or Ctrl-C.
    #[arg(long, value_name = "SECS", default_value_t = 20)]
    pub shutdown_timeout: u64,
}
