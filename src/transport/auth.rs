//! Bearer tokens for the HTTP transport: where they come from, and which caller a request's
//! `Authorization` header names.
//!
//! One token comes from `DEVIN_MCP_TOKEN`; many come from a TOML tokens file, one entry per
//! person or bot:
//!
//! ```toml
//! [[token]]
//! name = "alice"                  # shown in logs instead of the token
//! token = "a-long-random-string"  # or token_sha256 = "<64 hex digits>", so the file
//!                                 # need not hold the secret
//! devin_user_id = "user-123"      # optional: her sessions and messages carry her name
//! read_only = false               # optional: true allows read-only tools only
//! ```
//!
//! Tokens are kept as SHA-256 digests and a presented token is hashed, then compared with
//! every entry in constant time, so neither the comparison nor the number of entries checked
//! depends on how much of a guess was right. No token value is ever logged or put in an error.

use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::mcp::caller::Caller;

/// The environment variable holding the single shared token.
pub const ENV_TOKEN: &str = "DEVIN_MCP_TOKEN";

/// Shorter tokens are refused: they can be guessed.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The name logs give the caller of `DEVIN_MCP_TOKEN`.
const ENV_TOKEN_CALLER: &str = "token";

/// The tokens a server accepts, each with the caller it authenticates.
#[derive(Clone)]
pub struct Tokens {
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    digest: [u8; 32],
    caller: Caller,
}

/// Hand-written so that a stray `{:?}` can never print a digest.
impl std::fmt::Debug for Tokens {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self
            .entries
            .iter()
            .map(|e| e.caller.name.as_str())
            .collect();
        formatter
            .debug_struct("Tokens")
            .field("names", &names)
            .finish()
    }
}

/// The tokens file: `[[token]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    #[serde(default)]
    token: Vec<FileEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    name: String,
    token: Option<String>,
    token_sha256: Option<String>,
    devin_user_id: Option<String>,
    #[serde(default)]
    read_only: bool,
}

impl Tokens {
    /// The tokens from `DEVIN_MCP_TOKEN` or from the file at `path`; `None` when neither is
    /// given. Giving both is refused, so that a forgotten variable cannot add a full-access
    /// token next to a carefully written file.
    pub fn from_env_or_file(path: Option<&Path>) -> Result<Option<Self>, String> {
        let env_token = std::env::var(ENV_TOKEN)
            .ok()
            .filter(|t| !t.trim().is_empty());
        match (env_token, path) {
            (Some(_), Some(_)) => Err(format!(
                "both {ENV_TOKEN} and --tokens are set; use one of them"
            )),
            (Some(token), None) => Self::single(&token).map(Some),
            (None, Some(path)) => Self::from_file(path).map(Some),
            (None, None) => Ok(None),
        }
    }

    /// One token, for one caller with full access.
    pub fn single(token: &str) -> Result<Self, String> {
        check_token(token).map_err(|reason| format!("{ENV_TOKEN} {reason}"))?;
        Ok(Self {
            entries: vec![Entry {
                digest: sha256(token),
                caller: Caller {
                    name: ENV_TOKEN_CALLER.to_owned(),
                    devin_user_id: None,
                    read_only: false,
                },
            }],
        })
    }

    /// Reads a tokens file; errors name the file and the entry, never a token.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("cannot read tokens file {}: {error}", path.display()))?;
        Self::parse(&text).map_err(|reason| format!("tokens file {}: {reason}", path.display()))
    }

    /// Parses the text of a tokens file.
    pub fn parse(text: &str) -> Result<Self, String> {
        let file: TokensFile = toml::from_str(text).map_err(|error| describe_toml(text, &error))?;
        if file.token.is_empty() {
            return Err("no [[token]] entries".to_owned());
        }
        let mut entries: Vec<Entry> = Vec::with_capacity(file.token.len());
        for (index, entry) in file.token.into_iter().enumerate() {
            let number = index + 1;
            let name = entry.name.trim().to_owned();
            if name.is_empty() {
                return Err(format!("entry {number}: name is empty"));
            }
            let label = format!("entry {number} ({name})");
            let digest = match (&entry.token, &entry.token_sha256) {
                (Some(token), None) => {
                    check_token(token).map_err(|reason| format!("{label}: token {reason}"))?;
                    sha256(token)
                }
                (None, Some(hex)) => parse_digest(hex).ok_or_else(|| {
                    format!("{label}: token_sha256 must be 64 hexadecimal digits")
                })?,
                _ => {
                    return Err(format!(
                        "{label}: give exactly one of token and token_sha256"
                    ));
                }
            };
            let devin_user_id = entry.devin_user_id.map(|id| id.trim().to_owned());
            if devin_user_id.as_deref() == Some("") {
                return Err(format!(
                    "{label}: devin_user_id is empty; leave it out instead"
                ));
            }
            if entries.iter().any(|other| other.caller.name == name) {
                return Err(format!("{label}: another entry has the same name"));
            }
            if entries
                .iter()
                .any(|other| bool::from(other.digest.ct_eq(&digest)))
            {
                return Err(format!("{label}: another entry has the same token"));
            }
            entries.push(Entry {
                digest,
                caller: Caller {
                    name,
                    devin_user_id,
                    read_only: entry.read_only,
                },
            });
        }
        Ok(Self { entries })
    }

    /// How many callers these tokens authenticate.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false: parsing refuses an empty set.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The caller whose token an `Authorization: Bearer <token>` header value carries.
    pub fn authenticate(&self, authorization: Option<&[u8]>) -> Option<&Caller> {
        let token = bearer_token(authorization?)?;
        let digest = sha256(token);
        // Every entry is compared, whatever matched earlier.
        let mut found = None;
        for entry in &self.entries {
            let matches = bool::from(entry.digest.ct_eq(&digest));
            if matches && found.is_none() {
                found = Some(&entry.caller);
            }
        }
        found
    }
}

/// The token of a `Bearer` authorization header value (the scheme is case-insensitive).
fn bearer_token(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Why a token is unacceptable, as the end of a sentence that starts with where it came from.
fn check_token(token: &str) -> Result<(), String> {
    if token.chars().count() < MIN_TOKEN_CHARS {
        return Err(format!(
            "is shorter than {MIN_TOKEN_CHARS} characters; use a long random string, e.g. \
             from `openssl rand -hex 32`"
        ));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("contains whitespace or control characters".to_owned());
    }
    Ok(())
}

fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut digest = [0u8; 32];
    for (byte, pair) in digest.iter_mut().zip(hex.chunks_exact(2)) {
        let high = char::from(pair[0]).to_digit(16)?;
        let low = char::from(pair[1]).to_digit(16)?;
        *byte = u8::try_from(high * 16 + low).ok()?;
    }
    Some(digest)
}

/// Says where a TOML error is and what is wrong, without quoting the file: the quoted line,
/// or a value serde repeats ("invalid type: string \"…\""), could be a token.
fn describe_toml(text: &str, error: &toml::de::Error) -> String {
    let message = error.message();
    let message = match message.find(", expected") {
        Some(at) if message.starts_with("invalid type") || message.starts_with("invalid value") => {
            let kind = message.split(':').next().unwrap_or("invalid value");
            format!("{kind}{}", &message[at..])
        }
        _ => message.to_owned(),
    };
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    const ALICE: &str = "alice-0123456789abcdef";
    const BOB: &str = "bob-0123456789abcdef";

    fn hex(digest: [u8; 32]) -> String {
        digest.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    fn two_callers() -> Tokens {
        Tokens::parse(&format!(
            "[[token]]\nname = \"alice\"\ntoken = \"{ALICE}\"\ndevin_user_id = \"user-a\"\n\n\
             [[token]]\nname = \"bob\"\ntoken_sha256 = \"{}\"\nread_only = true\n",
            hex(sha256(BOB))
        ))
        .unwrap()
    }

    #[test]
    fn each_token_authenticates_its_own_caller() {
        let tokens = two_callers();
        let alice = tokens.authenticate(Some(format!("Bearer {ALICE}").as_bytes()));
        assert_eq!(alice.map(|c| c.name.as_str()), Some("alice"));
        assert_eq!(alice.unwrap().devin_user_id.as_deref(), Some("user-a"));
        assert!(!alice.unwrap().read_only);
        let bob = tokens.authenticate(Some(format!("bearer {BOB}").as_bytes()));
        assert_eq!(bob.map(|c| c.name.as_str()), Some("bob"));
        assert!(bob.unwrap().read_only);
    }

    #[test]
    fn wrong_missing_or_malformed_credentials_authenticate_nobody() {
        let tokens = two_callers();
        assert!(tokens.authenticate(None).is_none());
        assert!(
            tokens
                .authenticate(Some(b"Bearer nope-nope-nope-nope"))
                .is_none()
        );
        assert!(
            tokens
                .authenticate(Some(format!("Basic {ALICE}").as_bytes()))
                .is_none()
        );
        assert!(tokens.authenticate(Some(ALICE.as_bytes())).is_none());
        assert!(tokens.authenticate(Some(b"Bearer ")).is_none());
        assert!(tokens.authenticate(Some(b"Bearer \xff\xfe")).is_none());
        let prefix = &ALICE[..ALICE.len() - 1];
        assert!(
            tokens
                .authenticate(Some(format!("Bearer {prefix}").as_bytes()))
                .is_none()
        );
    }

    #[test]
    fn bad_files_are_refused_without_quoting_tokens() {
        let cases = [
            ("", "no [[token]] entries"),
            (
                "[[token]]\nname = \"a\"\n",
                "exactly one of token and token_sha256",
            ),
            (
                "[[token]]\nname = \"a\"\ntoken = \"short-secret\"\n",
                "shorter than 16",
            ),
            (
                "[[token]]\nname = \"a\"\ntoken_sha256 = \"abc\"\n",
                "64 hexadecimal digits",
            ),
            (
                "[[token]]\nname = \"a\"\ntoken = \"secret-value-0123456789\"\nread_only = \
                 \"secret-value-0123456789\"\n",
                "line 4: invalid type, expected a boolean",
            ),
            (
                "[[token]]\nname = \"a\"\ntokn = \"secret-value-0123456789\"\n",
                "unknown field `tokn`",
            ),
            (
                "[[token]]\nname = \"a\"\ntoken = \"secret-value-0123456789",
                "line 3",
            ),
        ];
        for (text, expected) in cases {
            let error = Tokens::parse(text).expect_err(text);
            assert!(error.contains(expected), "{text:?}: {error}");
            assert!(!error.contains("secret-value"), "{text:?} leaked: {error}");
        }
    }

    #[test]
    fn duplicate_names_and_tokens_are_refused() {
        let same_name = format!(
            "[[token]]\nname = \"a\"\ntoken = \"{ALICE}\"\n[[token]]\nname = \"a\"\ntoken = \
             \"{BOB}\"\n"
        );
        assert!(Tokens::parse(&same_name).unwrap_err().contains("same name"));
        let same_token = format!(
            "[[token]]\nname = \"a\"\ntoken = \"{ALICE}\"\n[[token]]\nname = \"b\"\n\
             token_sha256 = \"{}\"\n",
            hex(sha256(ALICE)).to_uppercase()
        );
        assert!(
            Tokens::parse(&same_token)
                .unwrap_err()
                .contains("same token")
        );
    }

    #[test]
    fn debug_output_names_callers_only() {
        let printed = format!("{:?}", two_callers());
        assert!(printed.contains("alice") && printed.contains("bob"));
        assert!(!printed.contains(&hex(sha256(BOB))) && !printed.contains(ALICE));
    }
}
