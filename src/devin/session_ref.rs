//! Session references: the three ways people and models name a session.
//!
//! Paths need the `devin-` form (`/sessions/devin-<id>`), bodies carry either form (§10 #1),
//! and people paste web URLs (`https://app.devin.ai/sessions/<id>`). [`SessionRef`] accepts
//! all three and renders the one each place needs.

use std::fmt;
use std::str::FromStr;

const PREFIX: &str = "devin-";

/// The host of Devin's web app, the only one whose session URLs are accepted.
const WEB_HOST: &str = "app.devin.ai";

/// A session id, normalised. Compare two of them with `==`: the prefix never matters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionRef {
    /// The id without `devin-`.
    bare: String,
}

/// Why a string is not a session reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{input}' is not a session id; use 'devin-<id>', a bare '<id>', or the session's web \
     URL 'https://app.devin.ai/sessions/<id>'"
)]
pub struct InvalidSessionRef {
    input: String,
}

impl SessionRef {
    /// The id without the prefix, as in web URLs.
    pub fn bare(&self) -> &str {
        &self.bare
    }

    /// The `devin-<id>` form, for paths and for everything this server returns.
    pub fn devin_id(&self) -> String {
        format!("{PREFIX}{}", self.bare)
    }

    /// Parses a reference, keeping the input out of the error when it is very long.
    pub fn parse(input: &str) -> Result<Self, InvalidSessionRef> {
        let trimmed = input.trim();
        let reject = || InvalidSessionRef {
            input: shorten(trimmed),
        };
        let candidate = if trimmed.contains("://") {
            // Only Devin's own web app: a URL on another host that happens to have a
            // `/sessions/<id>` path names something else, and taking its id would act on
            // whichever Devin session shares it.
            let url = url::Url::parse(trimmed).map_err(|_| reject())?;
            let from_devin = url.scheme() == "https"
                && url.host_str() == Some(WEB_HOST)
                && url.port().is_none()
                && url.username().is_empty()
                && url.password().is_none();
            let id = url
                .path()
                .strip_prefix("/sessions/")
                .map(|rest| rest.strip_suffix('/').unwrap_or(rest));
            match id {
                // The query and fragment say nothing about which session it is.
                Some(id) if from_devin => id.to_owned(),
                _ => return Err(reject()),
            }
        } else {
            trimmed.to_owned()
        };
        let bare = candidate.strip_prefix(PREFIX).unwrap_or(&candidate);
        let well_formed = !bare.is_empty()
            && bare.len() <= 128
            && bare
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if well_formed {
            Ok(Self {
                bare: bare.to_ascii_lowercase(),
            })
        } else {
            Err(reject())
        }
    }
}

fn shorten(input: &str) -> String {
    const LIMIT: usize = 80;
    if input.chars().count() <= LIMIT {
        input.to_owned()
    } else {
        let head: String = input.chars().take(LIMIT).collect();
        format!("{head}…")
    }
}

impl FromStr for SessionRef {
    type Err = InvalidSessionRef;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

impl fmt::Display for SessionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.bare)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "5f0c2d7e9a8b4c1d8e2f3a4b5c6d7e8f";

    #[test]
    fn accepts_prefixed_bare_and_url_forms() {
        let prefixed = SessionRef::parse(&format!("devin-{HEX}")).unwrap();
        let bare = SessionRef::parse(HEX).unwrap();
        let url = SessionRef::parse(&format!("https://app.devin.ai/sessions/{HEX}")).unwrap();
        let url_slash =
            SessionRef::parse(&format!("https://app.devin.ai/sessions/{HEX}/")).unwrap();
        assert_eq!(prefixed, bare);
        assert_eq!(bare, url);
        assert_eq!(url, url_slash);
        for decorated in [
            format!("https://app.devin.ai/sessions/{HEX}?tab=shell"),
            format!("https://app.devin.ai/sessions/{HEX}/#latest"),
            format!("HTTPS://APP.DEVIN.AI/sessions/{HEX}"),
            format!("https://app.devin.ai:443/sessions/{HEX}"),
        ] {
            assert_eq!(SessionRef::parse(&decorated).unwrap(), url, "{decorated}");
        }
        assert_eq!(prefixed.devin_id(), format!("devin-{HEX}"));
        assert_eq!(prefixed.bare(), HEX);
    }

    #[test]
    fn rejects_other_shapes_and_names_the_accepted_forms() {
        for input in [
            "",
            "devin-",
            "a b",
            "https://app.devin.ai/playbooks/x",
            "../etc",
            "x?y",
            "https://github.com/sessions/abc",
            "ftp://x/sessions/abc",
            "http://app.devin.ai/sessions/abc",
            "https://app.devin.ai.example.com/sessions/abc",
            "https://app.devin.ai:8443/sessions/abc",
            "https://user@app.devin.ai/sessions/abc",
            "https://app.devin.ai/sessions/abc/messages",
            "https://app.devin.ai/other/sessions/abc",
            "https://app.devin.ai//sessions/abc",
        ] {
            let error = SessionRef::parse(input).unwrap_err().to_string();
            assert!(error.contains("devin-<id>"), "{input}: {error}");
            assert!(
                error.contains("https://app.devin.ai/sessions/<id>"),
                "{input}: {error}"
            );
        }
    }

    #[test]
    fn long_inputs_are_shortened_in_errors() {
        let error = SessionRef::parse(&"!".repeat(500)).unwrap_err().to_string();
        assert!(error.len() < 300);
    }
}
