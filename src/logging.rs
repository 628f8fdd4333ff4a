//! Logging to stderr, filtered like `RUST_LOG`.
//!
//! Stdout belongs to the protocol in stdio mode, so nothing is ever logged there. rmcp logs
//! whole requests, tool arguments and session secrets included, at debug and trace; its
//! events are therefore capped at `info` whatever `RUST_LOG` asks for.

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

/// The filter used when `RUST_LOG` is unset.
pub const DEFAULT_FILTER: &str = "info,rmcp=warn";

/// Targets whose debug and trace events may carry request bodies.
const CAPPED_TARGETS: [&str; 1] = ["rmcp"];

/// Installs the global subscriber. Safe to call more than once; later calls do nothing.
///
/// A `RUST_LOG` that does not parse is a configuration error: silently logging something
/// else than asked would hide the very lines the user turned on.
pub fn init() -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
            .map_err(|error| format!("RUST_LOG '{directives}' is not a valid filter: {error}"))?,
        _ => EnvFilter::new(DEFAULT_FILTER),
    };
    let cap = filter_fn(|metadata| {
        let crate_name = metadata.target().split("::").next().unwrap_or_default();
        let capped = CAPPED_TARGETS.contains(&crate_name);
        !(capped && *metadata.level() > Level::INFO)
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter)
        .with_filter(cap);
    let _ = tracing_subscriber::registry().with(layer).try_init();
    Ok(())
}
