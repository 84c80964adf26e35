//! The three port ranges of RFC 6335 and what each means for someone looking at a machine.
//!
//! The range a port falls in already says a lot: who may listen there, whether IANA's name for
//! it is authoritative, and whether it is likely to be a short-lived connection end. This module
//! keeps that explanation in one place so the GUI and the CLI say the same thing.

use serde::Serialize;

/// One of IANA's three port ranges (RFC 6335, section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IanaRange {
    /// 0–1023, the "well-known" or System Ports.
    System,
    /// 1024–49151, the "registered" or User Ports.
    User,
    /// 49152–65535, the Dynamic and/or Private Ports.
    Dynamic,
}

impl IanaRange {
    /// The range `port` belongs to.
    pub const fn of(port: u16) -> IanaRange {
        match port {
            0..=1023 => IanaRange::System,
            1024..=49151 => IanaRange::User,
            _ => IanaRange::Dynamic,
        }
    }

    /// First and last port of the range, both inclusive.
    pub const fn bounds(self) -> (u16, u16) {
        match self {
            IanaRange::System => (0, 1023),
            IanaRange::User => (1024, 49151),
            IanaRange::Dynamic => (49152, 65535),
        }
    }

    /// The everyday name of the range.
    pub const fn label(self) -> &'static str {
        match self {
            IanaRange::System => "well-known",
            IanaRange::User => "registered",
            IanaRange::Dynamic => "dynamic/private",
        }
    }

    /// The name RFC 6335 gives the range.
    pub const fn iana_name(self) -> &'static str {
        match self {
            IanaRange::System => "System Ports",
            IanaRange::User => "User Ports",
            IanaRange::Dynamic => "Dynamic and/or Private Ports",
        }
    }

    /// A short paragraph, in plain words, on what the range means for someone looking at a
    /// port on their machine.
    pub const fn meaning(self) -> &'static str {
        match self {
            IanaRange::System => {
                "Ports 0–1023 are the well-known (system) ports. IANA assigns them only through \
                 the IETF, to core protocols such as SSH (22), DNS (53) and HTTPS (443). On Linux \
                 and macOS, listening on one normally needs root or, on Linux, the \
                 CAP_NET_BIND_SERVICE capability; Linux can lower that limit with the sysctl \
                 net.ipv4.ip_unprivileged_port_start, and macOS since 10.14 lets any user listen \
                 on them on all addresses (0.0.0.0). Windows does not restrict them. A listener \
                 here was therefore usually started by the system or an administrator."
            }
            IanaRange::User => {
                "Ports 1024–49151 are the registered (user) ports. IANA assigns them to \
                 applications on request, but the registry is only a record: nothing enforces \
                 it, any user may listen on these ports, and many popular programs use numbers \
                 registered to something else or never registered at all. Treat IANA's name for \
                 such a port as a hint, not as proof of what is running. Linux also hands out \
                 ports from 32768 upwards for outgoing connections by default, so a port in the \
                 upper part of this range can simply be a temporary connection end."
            }
            IanaRange::Dynamic => {
                "Ports 49152–65535 are the dynamic (private or ephemeral) ports. IANA never \
                 assigns them. Operating systems pick ports from here for the local end of \
                 outgoing connections (Windows and macOS use exactly this range, Linux uses \
                 32768–60999 by default), so a port seen here is usually the temporary end of a \
                 connection: short-lived, and possibly gone by the time you check. Programs may \
                 also listen here on purpose, for private or peer-to-peer services."
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundaries() {
        assert_eq!(IanaRange::of(0), IanaRange::System);
        assert_eq!(IanaRange::of(1023), IanaRange::System);
        assert_eq!(IanaRange::of(1024), IanaRange::User);
        assert_eq!(IanaRange::of(49151), IanaRange::User);
        assert_eq!(IanaRange::of(49152), IanaRange::Dynamic);
        assert_eq!(IanaRange::of(65535), IanaRange::Dynamic);
    }

    #[test]
    fn bounds_agree_with_of() {
        for range in [IanaRange::System, IanaRange::User, IanaRange::Dynamic] {
            let (lo, hi) = range.bounds();
            assert_eq!(IanaRange::of(lo), range);
            assert_eq!(IanaRange::of(hi), range);
            assert!(!range.meaning().is_empty());
        }
    }
}
