//! Process configuration: environment variables, a `.env` file, and what the command line
//! adds. Turns them into a [`ClientConfig`] or one clear sentence saying what is wrong.

use std::path::Path;
use std::time::Duration;

use crate::devin::client::DEFAULT_BASE_URL;
use crate::devin::{ApiKey, ClientConfig, DevinError, RetryPolicy};
use crate::mcp::watch::PollSettings;

/// Environment variables this server reads.
pub const ENV_API_KEY: &str = "DEVIN_API_KEY";
pub const ENV_ORG_ID: &str = "DEVIN_ORG_ID";
pub const ENV_BASE_URL: &str = "DEVIN_API_BASE_URL";
pub const ENV_MAX_RETRIES: &str = "DEVIN_API_MAX_RETRIES";
pub const ENV_TIMEOUT: &str = "DEVIN_API_TIMEOUT_SECS";
pub const ENV_POLL_MIN: &str = "DEVIN_MCP_POLL_MIN_SECS";
pub const ENV_POLL_MAX: &str = "DEVIN_MCP_POLL_MAX_SECS";
pub const ENV_PROGRESS: &str = "DEVIN_MCP_PROGRESS_SECS";

/// Reads `.env` from the working directory, when there is one. Variables already set in the
/// environment win over the file.
pub fn load_dotenv() -> Result<(), String> {
    let path = Path::new(".env");
    if !path.is_file() {
        return Ok(());
    }
    dotenvy::from_path(path).map_err(|error| format!("cannot read .env: {error}"))
}

/// The client configuration from the environment.
pub fn client_config_from_env() -> Result<ClientConfig, DevinError> {
    let key = non_empty(ENV_API_KEY).ok_or_else(|| {
        DevinError::Config(format!(
            "{ENV_API_KEY} is not set; set it to a Devin v3 API key (cog_…), or pass --sim to \
             try the server against the built-in simulator"
        ))
    })?;
    let base_url = non_empty(ENV_BASE_URL).unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let mut config = ClientConfig::new(ApiKey::new(key)?, &base_url)?;
    config.org_id = non_empty(ENV_ORG_ID);
    apply_retry_env(&mut config.retry)?;
    if let Some(org_id) = config.org_id.as_ref().filter(|id| !id.starts_with("org-")) {
        return Err(DevinError::Config(format!(
            "{ENV_ORG_ID} '{org_id}' does not look like an organization id (org-…)"
        )));
    }
    Ok(config)
}

/// Applies `DEVIN_API_MAX_RETRIES` and `DEVIN_API_TIMEOUT_SECS` to a retry policy.
pub fn apply_retry_env(policy: &mut RetryPolicy) -> Result<(), DevinError> {
    if let Some(text) = non_empty(ENV_MAX_RETRIES) {
        policy.max_retries = text
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= 10)
            .ok_or_else(|| {
                DevinError::Config(format!(
                    "{ENV_MAX_RETRIES} must be a whole number from 0 to 10"
                ))
            })?;
    }
    if let Some(text) = non_empty(ENV_TIMEOUT) {
        let seconds = text
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0 && *s <= 600.0);
        let seconds = seconds.ok_or_else(|| {
            DevinError::Config(format!(
                "{ENV_TIMEOUT} must be a number of seconds from 0 to 600"
            ))
        })?;
        policy.request_timeout = std::time::Duration::from_secs_f64(seconds);
    }
    Ok(())
}

/// Poll settings for waits, from `DEVIN_MCP_POLL_MIN_SECS`, `DEVIN_MCP_POLL_MAX_SECS` and
/// `DEVIN_MCP_PROGRESS_SECS` over the defaults.
pub fn poll_settings_from_env() -> Result<PollSettings, DevinError> {
    let mut settings = PollSettings::default();
    let seconds = |name: &str| -> Result<Option<Duration>, DevinError> {
        let Some(text) = non_empty(name) else {
            return Ok(None);
        };
        let value = text
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0 && *s <= 3600.0);
        value
            .map(|s| Some(Duration::from_secs_f64(s)))
            .ok_or_else(|| {
                DevinError::Config(format!("{name} must be a number of seconds from 0 to 3600"))
            })
    };
    if let Some(min) = seconds(ENV_POLL_MIN)? {
        settings.min_interval = min;
    }
    if let Some(max) = seconds(ENV_POLL_MAX)? {
        settings.max_interval = max;
    }
    if let Some(progress) = seconds(ENV_PROGRESS)? {
        settings.progress_interval = progress;
    }
    if settings.max_interval < settings.min_interval {
        return Err(DevinError::Config(format!(
            "{ENV_POLL_MAX} must not be below {ENV_POLL_MIN}"
        )));
    }
    Ok(settings)
}

fn non_empty(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}
