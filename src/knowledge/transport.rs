//! Transport protocols as the IANA registry names them.
//!
//! The registry distinguishes four transports; sockets seen on a machine are almost always TCP
//! or UDP, but the registry data and the lookups accept all four so that nothing in the file is
//! silently dropped.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A transport protocol column value of the IANA registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
    Sctp,
    Dccp,
}

impl Transport {
    /// Every transport the registry knows, in the registry's customary order.
    pub const ALL: [Transport; 4] = [
        Transport::Tcp,
        Transport::Udp,
        Transport::Sctp,
        Transport::Dccp,
    ];

    /// The lowercase name used by the registry and in JSON (`"tcp"`, `"udp"`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Sctp => "sctp",
            Transport::Dccp => "dccp",
        }
    }

    /// Whether an entry registered for `registered` applies to a lookup for `wanted`.
    ///
    /// `None` on either side means "every transport": registry rows without a transport apply
    /// to all of them, and a lookup without a transport wants all of them.
    pub fn matches(registered: Option<Transport>, wanted: Option<Transport>) -> bool {
        match (registered, wanted) {
            (Some(r), Some(w)) => r == w,
            _ => true,
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of `tcp`, `udp`, `sctp` or `dccp`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown transport {0:?}: expected tcp, udp, sctp or dccp")]
pub struct UnknownTransport(pub String);

impl FromStr for Transport {
    type Err = UnknownTransport;

    /// Parses a transport name, ignoring case and surrounding whitespace.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim();
        Transport::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(trimmed))
            .ok_or_else(|| UnknownTransport(trimmed.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_case_insensitively() {
        assert_eq!("TCP".parse::<Transport>(), Ok(Transport::Tcp));
        assert_eq!(" udp ".parse::<Transport>(), Ok(Transport::Udp));
        assert_eq!("Sctp".parse::<Transport>(), Ok(Transport::Sctp));
        assert_eq!("dccp".parse::<Transport>(), Ok(Transport::Dccp));
        assert!("icmp".parse::<Transport>().is_err());
        assert!("".parse::<Transport>().is_err());
    }

    #[test]
    fn serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&Transport::Sctp).ok().as_deref(),
            Some("\"sctp\"")
        );
    }

    #[test]
    fn none_matches_everything() {
        assert!(Transport::matches(None, Some(Transport::Udp)));
        assert!(Transport::matches(Some(Transport::Tcp), None));
        assert!(!Transport::matches(
            Some(Transport::Tcp),
            Some(Transport::Udp)
        ));
    }
}
