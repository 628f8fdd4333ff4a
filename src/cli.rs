//! The command line: what `devin-mcp --help` shows.

use std::net::SocketAddr;

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
    Stdio(ServeArgs),
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

/// Options shared by the server commands.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Serve against a built-in simulator of the Devin API instead of Devin: no key, no
    /// network, nothing billed. For trying the server and for demos.
    #[arg(long)]
    pub sim: bool,
}
