//! `devin-mcp`: parse the command line, set up logging, dispatch.

use std::process::ExitCode;

use clap::Parser;
use devin_mcp::cli::{Cli, Command, HttpArgs, ServeArgs};
use devin_mcp::devin::DevinClient;
use devin_mcp::mcp::DevinMcp;
use devin_mcp::{config, logging, sim, transport};

/// Exit status for configuration errors found before serving.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // `.env` first, so that a RUST_LOG set there filters the logs too.
    if let Err(message) = config::load_dotenv() {
        return fail(EXIT_CONFIG, &message);
    }
    if let Err(message) = logging::init() {
        return fail(EXIT_CONFIG, &message);
    }
    // Stdio serves one client: one thread starts faster and holds less memory. HTTP serves
    // many, and the standalone simulator may be loaded by them, so they get every core.
    let shared = matches!(cli.command, Some(Command::Http(_) | Command::Sim { .. }));
    let mut builder = if shared {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    match builder.enable_all().build() {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(error) => fail(1, &format!("cannot start the async runtime: {error}")),
    }
}

async fn run(cli: Cli) -> ExitCode {
    let result = match cli.command {
        None | Some(Command::Stdio) => serve_stdio(cli.serve).await,
        Some(Command::Http(args)) => serve_http(args, cli.serve).await,
        Some(Command::Sim { listen }) => sim::run_standalone(listen)
            .await
            .map_err(|error| (1, format!("simulator: {error}"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err((code, message)) => fail(code, &message),
    }
}

async fn serve_stdio(args: ServeArgs) -> Result<(), (u8, String)> {
    let settings = config::poll_settings_from_env().map_err(|e| (EXIT_CONFIG, e.to_string()))?;
    let (client, _simulator) = connect(&args).await?;
    transport::stdio::serve(DevinMcp::with_poll_settings(client, settings))
        .await
        .map_err(|message| (1, message))
}

async fn serve_http(args: HttpArgs, serve: ServeArgs) -> Result<(), (u8, String)> {
    let options =
        transport::http::HttpOptions::from_args(&args).map_err(|message| (EXIT_CONFIG, message))?;
    let settings = config::poll_settings_from_env().map_err(|e| (EXIT_CONFIG, e.to_string()))?;
    let (client, _simulator) = connect(&serve).await?;
    transport::http::serve(DevinMcp::with_poll_settings(client, settings), options)
        .await
        .map_err(|message| (1, message))
}

/// Builds the Devin client: against Devin from the environment, or against an in-process
/// simulator with `--sim`. The simulator handle must live as long as the server. Every
/// setting is read before the simulator starts, so a bad one fails with one line.
async fn connect(args: &ServeArgs) -> Result<(DevinClient, Option<sim::Simulator>), (u8, String)> {
    let config_error = |error: devin_mcp::devin::DevinError| (EXIT_CONFIG, error.to_string());
    if !args.sim {
        let config = config::client_config_from_env().map_err(config_error)?;
        return Ok((DevinClient::new(config).map_err(config_error)?, None));
    }
    let mut retry = devin_mcp::devin::client::RetryPolicy::default();
    config::apply_retry_env(&mut retry).map_err(config_error)?;
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let simulator = sim::Simulator::start(sim::SimConfig::realtime(), loopback)
        .await
        .map_err(|error| (1, format!("cannot start the simulator: {error}")))?;
    tracing::info!(base_url = %simulator.base_url(), "serving against the Devin simulator, not Devin");
    let key = devin_mcp::devin::ApiKey::new(simulator.api_key()).map_err(config_error)?;
    let mut config =
        devin_mcp::devin::ClientConfig::new(key, &simulator.base_url()).map_err(config_error)?;
    config.org_id = Some(simulator.org_id().to_owned());
    config.retry = retry;
    Ok((
        DevinClient::new(config).map_err(config_error)?,
        Some(simulator),
    ))
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("devin-mcp: error: {message}");
    ExitCode::from(code)
}
