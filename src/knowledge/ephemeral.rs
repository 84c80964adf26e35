//! The ephemeral (automatic) port range of this machine.
//!
//! Whether a port is "probably the temporary end of an outgoing connection" depends on the range
//! the operating system hands out, not on IANA's dynamic range: Linux uses 32768–60999 by
//! default, which overlaps IANA's registered ports. On Linux the range is read live from procfs;
//! elsewhere the documented default of the OS is used and says so. Reading never panics: a
//! missing or garbled file gives a fallback that carries the reason.

use std::io;

use serde::Serialize;

use super::range::IanaRange;

/// IANA's dynamic range, which Windows (since Vista) and macOS use as their ephemeral range.
pub const IANA_DYNAMIC: (u16, u16) = IanaRange::Dynamic.bounds();
/// Linux's default `net.ipv4.ip_local_port_range`.
pub const LINUX_DEFAULT: (u16, u16) = (32768, 60999);
/// FreeBSD's default `net.inet.ip.portrange.first` and `.last`.
pub const FREEBSD_DEFAULT: (u16, u16) = (10000, 65535);
/// Where Linux publishes the range it hands out.
pub const LINUX_PORT_RANGE_PATH: &str = "/proc/sys/net/ipv4/ip_local_port_range";
/// Where Linux publishes the ports excluded from automatic assignment.
pub const LINUX_RESERVED_PORTS_PATH: &str = "/proc/sys/net/ipv4/ip_local_reserved_ports";

/// The range of ports the OS picks from for the local end of outgoing connections (and for
/// programs that listen on port 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EphemeralRange {
    /// First port of the range, inclusive.
    pub start: u16,
    /// Last port of the range, inclusive.
    pub end: u16,
    /// Inclusive ranges the OS never hands out automatically (Linux `ip_local_reserved_ports`).
    pub reserved: Vec<(u16, u16)>,
    /// Where the numbers come from.
    pub source: EphemeralSource,
}

/// Where an [`EphemeralRange`] came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EphemeralSource {
    /// Read from the running kernel.
    Live {
        /// The file the range was read from.
        path: &'static str,
        /// Why the reserved-port list could not be read, if it could not.
        reserved_error: Option<String>,
        /// The host whose kernel it is, as the user gave it (read over SSH); `None`: this
        /// machine's.
        #[serde(skip_serializing_if = "Option::is_none")]
        host: Option<String>,
    },
    /// The documented default of this operating system; the system was not asked.
    OsDefault {
        /// The operating system the default belongs to.
        os: &'static str,
        /// A command that shows the range actually in force.
        how_to_check: &'static str,
    },
    /// Reading failed or no default is known; the range is an assumption.
    Fallback {
        /// What went wrong and what was assumed instead.
        reason: String,
    },
}

/// ` on db1` for a host's file (escaped: the host is text from elsewhere), nothing for this
/// machine's.
fn on_host(host: &Option<String>) -> String {
    host.as_deref().map_or_else(String::new, |h| {
        format!(" on {}", crate::model::text::escape(h))
    })
}

impl EphemeralSource {
    /// The machine the range is of, in words: `this machine`, or the host.
    pub fn machine(&self) -> String {
        match self {
            EphemeralSource::Live {
                host: Some(host), ..
            } => crate::model::text::escape(host).into_owned(),
            _ => "this machine".to_owned(),
        }
    }

    /// One sentence fragment saying where the range comes from, for display.
    pub fn describe(&self) -> String {
        match self {
            EphemeralSource::Live {
                path,
                reserved_error: None,
                host,
            } => format!("read from {path}{}", on_host(host)),
            EphemeralSource::Live {
                path,
                reserved_error: Some(error),
                host,
            } => {
                format!(
                    "read from {path}{} (the list of reserved ports could not be read: {error})",
                    on_host(host)
                )
            }
            EphemeralSource::OsDefault { os, how_to_check } => format!(
                "the documented default of {os}, not read from the system (check with `{how_to_check}`)"
            ),
            EphemeralSource::Fallback { reason } => reason.clone(),
        }
    }

    /// Whether the range describes this machine (read live or the OS's documented default),
    /// as opposed to a guess made after a failure.
    pub fn is_this_machine(&self) -> bool {
        !matches!(self, EphemeralSource::Fallback { .. })
    }
}

impl EphemeralRange {
    /// The range in force on this machine.
    ///
    /// On Linux (and Android) the kernel's files are read; on other systems this is
    /// [`EphemeralRange::os_default`]. Never fails: problems end up in [`EphemeralSource`].
    pub fn read_live() -> EphemeralRange {
        if cfg!(any(target_os = "linux", target_os = "android")) {
            EphemeralRange::from_linux_sysctl(
                std::fs::read_to_string(LINUX_PORT_RANGE_PATH),
                std::fs::read_to_string(LINUX_RESERVED_PORTS_PATH),
            )
        } else {
            EphemeralRange::os_default()
        }
    }

    /// Builds the range from the contents (or read errors) of Linux's two procfs files.
    ///
    /// A failure on the range file gives Linux's default with the reason; a failure on the
    /// reserved list only drops the list and is recorded in the source.
    pub fn from_linux_sysctl(
        port_range: io::Result<String>,
        reserved_ports: io::Result<String>,
    ) -> EphemeralRange {
        let (start, end) = match port_range
            .map_err(|e| format!("could not read {LINUX_PORT_RANGE_PATH}: {e}"))
            .and_then(|text| {
                parse_port_range(&text)
                    .map_err(|e| format!("could not understand {LINUX_PORT_RANGE_PATH}: {e}"))
            }) {
            Ok(range) => range,
            Err(problem) => {
                let (start, end) = LINUX_DEFAULT;
                return EphemeralRange {
                    start,
                    end,
                    reserved: Vec::new(),
                    source: EphemeralSource::Fallback {
                        reason: format!("{problem}; assuming the Linux default {start}–{end}"),
                    },
                };
            }
        };
        let (reserved, reserved_error) = match reserved_ports {
            Ok(text) => match parse_reserved_ports(&text) {
                Ok(list) => (list, None),
                Err(e) => (
                    Vec::new(),
                    Some(format!("{LINUX_RESERVED_PORTS_PATH}: {e}")),
                ),
            },
            Err(e) => (
                Vec::new(),
                Some(format!("{LINUX_RESERVED_PORTS_PATH}: {e}")),
            ),
        };
        EphemeralRange {
            start,
            end,
            reserved,
            source: EphemeralSource::Live {
                path: LINUX_PORT_RANGE_PATH,
                reserved_error,
                host: None,
            },
        }
    }

    /// Linux's documented default, 32768–60999, as for a machine that was not read.
    pub fn linux_default() -> EphemeralRange {
        let (start, end) = LINUX_DEFAULT;
        EphemeralRange {
            start,
            end,
            reserved: Vec::new(),
            source: EphemeralSource::OsDefault {
                os: "Linux",
                how_to_check: "sysctl net.ipv4.ip_local_port_range",
            },
        }
    }

    /// The documented default range of the operating system this program was built for,
    /// without asking the system.
    pub fn os_default() -> EphemeralRange {
        let documented = |(start, end): (u16, u16), os, how_to_check| EphemeralRange {
            start,
            end,
            reserved: Vec::new(),
            source: EphemeralSource::OsDefault { os, how_to_check },
        };
        if cfg!(any(target_os = "linux", target_os = "android")) {
            EphemeralRange::linux_default()
        } else if cfg!(target_os = "windows") {
            documented(
                IANA_DYNAMIC,
                "Windows (since Vista)",
                "netsh int ipv4 show dynamicport tcp",
            )
        } else if cfg!(any(target_os = "macos", target_os = "ios")) {
            documented(
                IANA_DYNAMIC,
                "macOS",
                "sysctl net.inet.ip.portrange.first net.inet.ip.portrange.last",
            )
        } else if cfg!(target_os = "freebsd") {
            documented(
                FREEBSD_DEFAULT,
                "FreeBSD",
                "sysctl net.inet.ip.portrange.first net.inet.ip.portrange.last",
            )
        } else {
            let (start, end) = IANA_DYNAMIC;
            EphemeralRange {
                start,
                end,
                reserved: Vec::new(),
                source: EphemeralSource::Fallback {
                    reason: format!(
                        "no documented default is known for this operating system; assuming \
                         IANA's dynamic range {start}–{end}"
                    ),
                },
            }
        }
    }

    /// Whether `port` lies in the range (reserved ports included; see [`Self::is_reserved`]).
    pub fn contains(&self, port: u16) -> bool {
        self.start <= port && port <= self.end
    }

    /// Whether `port` is on the list of ports the OS never hands out automatically.
    pub fn is_reserved(&self, port: u16) -> bool {
        self.reserved
            .iter()
            .any(|&(lo, hi)| lo <= port && port <= hi)
    }

    /// Whether the OS may hand `port` out by itself to an outgoing connection: inside the
    /// range and not reserved. A server on such a port can find it taken when it restarts.
    pub fn may_hand_out(&self, port: u16) -> bool {
        self.contains(port) && !self.is_reserved(port)
    }

    /// Number of ports in the range, reserved ones included.
    pub fn len(&self) -> usize {
        if self.end < self.start {
            0
        } else {
            usize::from(self.end - self.start) + 1
        }
    }

    /// Whether the range holds no port at all (only possible if built with `start > end`).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A sentence explaining how this range differs from IANA's dynamic range, or `None` when
    /// it is the same.
    pub fn iana_difference(&self) -> Option<String> {
        let (iana_start, iana_end) = IANA_DYNAMIC;
        if (self.start, self.end) == IANA_DYNAMIC {
            return None;
        }
        let whose = if (self.start, self.end) == LINUX_DEFAULT {
            "Linux's default ephemeral range"
        } else {
            "This ephemeral range"
        };
        let mut text = format!(
            "{whose}, {}–{}, differs from IANA's dynamic range {iana_start}–{iana_end}.",
            self.start, self.end
        );
        if self.start < iana_start {
            text.push_str(
                " It starts inside IANA's registered range, so the temporary end of a connection \
                 can carry a number that IANA registered to some service; that registration says \
                 nothing about the connection.",
            );
        }
        Some(text)
    }
}

/// Why a port range or port list could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeParseError {
    #[error("the text is empty; expected two port numbers")]
    Empty,
    #[error("expected two port numbers (start and end), found {0} item(s)")]
    FieldCount(usize),
    #[error("{0:?} is not a port number")]
    NotANumber(String),
    #[error("{value} is not a valid port here; expected {min}–65535")]
    OutOfRange { value: String, min: u16 },
    #[error("the range {start}–{end} starts after it ends")]
    StartAfterEnd { start: u16, end: u16 },
    #[error("the list has an empty item (two commas in a row or a stray comma)")]
    EmptyItem,
}

/// Parses the contents of Linux's `ip_local_port_range`: two port numbers separated by
/// whitespace, usually a tab, and followed by a newline (`"32768\t60999\n"`).
///
/// Port 0 is rejected because the kernel never accepts it as part of the range.
pub fn parse_port_range(text: &str) -> Result<(u16, u16), RangeParseError> {
    // Numbers first, so that "abc" is reported as not a number rather than as one field.
    let numbers = text
        .split_whitespace()
        .map(|field| parse_number(field, 1))
        .collect::<Result<Vec<u16>, _>>()?;
    let [start, end] = numbers[..] else {
        return Err(if numbers.is_empty() {
            RangeParseError::Empty
        } else {
            RangeParseError::FieldCount(numbers.len())
        });
    };
    if start > end {
        return Err(RangeParseError::StartAfterEnd { start, end });
    }
    Ok((start, end))
}

/// Parses the contents of Linux's `ip_local_reserved_ports`: a comma-separated list of ports
/// and inclusive ranges (`"8080,9000-9010\n"`). Empty text, or just a newline, is an empty list.
pub fn parse_reserved_ports(text: &str) -> Result<Vec<(u16, u16)>, RangeParseError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|item| {
            let item = item.trim();
            if item.is_empty() {
                return Err(RangeParseError::EmptyItem);
            }
            match item.split_once('-') {
                Some((lo, hi)) => {
                    let lo = parse_number(lo.trim(), 0)?;
                    let hi = parse_number(hi.trim(), 0)?;
                    if lo > hi {
                        Err(RangeParseError::StartAfterEnd { start: lo, end: hi })
                    } else {
                        Ok((lo, hi))
                    }
                }
                None => parse_number(item, 0).map(|port| (port, port)),
            }
        })
        .collect()
}

/// A decimal port number of at least `min`. Only ASCII digits are accepted, so signs,
/// hexadecimal and stray characters are reported rather than guessed at.
fn parse_number(text: &str, min: u16) -> Result<u16, RangeParseError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RangeParseError::NotANumber(text.to_owned()));
    }
    // All digits, so the only possible parse failure is overflow.
    match text.parse::<u16>() {
        Ok(port) if port >= min => Ok(port),
        _ => Err(RangeParseError::OutOfRange {
            value: text.to_owned(),
            min,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_range_accepts_kernel_format_and_spacing() {
        assert_eq!(parse_port_range("32768\t60999\n"), Ok((32768, 60999)));
        assert_eq!(parse_port_range("  1024   65535  "), Ok((1024, 65535)));
        assert_eq!(parse_port_range("5000 5000"), Ok((5000, 5000)));
    }

    #[test]
    fn port_range_rejects_garbage() {
        assert_eq!(parse_port_range(""), Err(RangeParseError::Empty));
        assert_eq!(parse_port_range("\n"), Err(RangeParseError::Empty));
        assert_eq!(
            parse_port_range("abc"),
            Err(RangeParseError::NotANumber("abc".into()))
        );
        assert_eq!(
            parse_port_range("32768"),
            Err(RangeParseError::FieldCount(1))
        );
        assert_eq!(
            parse_port_range("1 2 3"),
            Err(RangeParseError::FieldCount(3))
        );
        assert_eq!(
            parse_port_range("abc def"),
            Err(RangeParseError::NotANumber("abc".into()))
        );
        assert_eq!(
            parse_port_range("60999 32768"),
            Err(RangeParseError::StartAfterEnd {
                start: 60999,
                end: 32768
            })
        );
        assert_eq!(
            parse_port_range("1 70000"),
            Err(RangeParseError::OutOfRange {
                value: "70000".into(),
                min: 1
            })
        );
        assert!(matches!(
            parse_port_range("0 100"),
            Err(RangeParseError::OutOfRange { .. })
        ));
        assert!(matches!(
            parse_port_range("-1 100"),
            Err(RangeParseError::NotANumber(_))
        ));
        assert!(matches!(
            parse_port_range("1 99999999999999999999999"),
            Err(RangeParseError::OutOfRange { .. })
        ));
    }

    #[test]
    fn errors_read_clearly() {
        let message = parse_port_range("60999 32768").map_err(|e| e.to_string());
        assert_eq!(
            message,
            Err("the range 60999–32768 starts after it ends".into())
        );
        let message = parse_port_range("1 70000").map_err(|e| e.to_string());
        assert_eq!(
            message,
            Err("70000 is not a valid port here; expected 1–65535".into())
        );
    }

    #[test]
    fn reserved_ports() {
        assert_eq!(parse_reserved_ports(""), Ok(vec![]));
        assert_eq!(parse_reserved_ports("\n"), Ok(vec![]));
        assert_eq!(
            parse_reserved_ports("8080,9000-9010\n"),
            Ok(vec![(8080, 8080), (9000, 9010)])
        );
        assert_eq!(
            parse_reserved_ports("9010-9000"),
            Err(RangeParseError::StartAfterEnd {
                start: 9010,
                end: 9000
            })
        );
        assert_eq!(
            parse_reserved_ports("x"),
            Err(RangeParseError::NotANumber("x".into()))
        );
        assert_eq!(
            parse_reserved_ports("80,,90"),
            Err(RangeParseError::EmptyItem)
        );
        assert!(parse_reserved_ports("1-2-3").is_err());
        assert!(parse_reserved_ports("65536").is_err());
    }

    #[test]
    fn linux_files_with_problems_fall_back_without_panicking() {
        let missing = EphemeralRange::from_linux_sysctl(
            Err(io::Error::new(io::ErrorKind::NotFound, "gone")),
            Ok(String::new()),
        );
        assert_eq!((missing.start, missing.end), LINUX_DEFAULT);
        assert!(
            matches!(&missing.source, EphemeralSource::Fallback { reason } if reason.contains("gone"))
        );
        assert!(!missing.source.is_this_machine());

        let garbled = EphemeralRange::from_linux_sysctl(Ok("abc\n".into()), Ok(String::new()));
        assert_eq!((garbled.start, garbled.end), LINUX_DEFAULT);
        assert!(garbled.source.describe().contains("could not understand"));

        let bad_reserved =
            EphemeralRange::from_linux_sysctl(Ok("40000 50000\n".into()), Ok("x".into()));
        assert_eq!((bad_reserved.start, bad_reserved.end), (40000, 50000));
        assert!(bad_reserved.reserved.is_empty());
        assert!(bad_reserved.source.describe().contains("could not be read"));
    }

    #[test]
    fn linux_files_read_normally() {
        let range = EphemeralRange::from_linux_sysctl(
            Ok("32768\t60999\n".into()),
            Ok("8080,40000-40010\n".into()),
        );
        assert_eq!(range.len(), 28232);
        assert!(!range.is_empty());
        assert!(range.contains(32768) && range.contains(60999));
        assert!(!range.contains(32767) && !range.contains(61000));
        assert!(range.is_reserved(8080) && range.is_reserved(40005));
        assert!(!range.is_reserved(40011));
        assert_eq!(
            range.source.describe(),
            format!("read from {LINUX_PORT_RANGE_PATH}")
        );
        assert!(range.source.is_this_machine());
    }

    #[test]
    fn read_live_never_panics() {
        let range = EphemeralRange::read_live();
        assert!(range.start <= range.end);
        assert!(!range.source.describe().is_empty());
    }

    #[test]
    fn difference_from_iana() {
        let linux = EphemeralRange::from_linux_sysctl(Ok("32768 60999".into()), Ok(String::new()));
        let note = linux.iana_difference().unwrap_or_default();
        assert!(note.starts_with("Linux's default ephemeral range, 32768–60999, differs"));
        assert!(note.contains("registered range"));

        let iana = EphemeralRange {
            start: 49152,
            end: 65535,
            reserved: vec![],
            source: EphemeralSource::Fallback {
                reason: "test".into(),
            },
        };
        assert_eq!(iana.iana_difference(), None);
    }

    #[test]
    fn inverted_range_is_empty() {
        let odd = EphemeralRange {
            start: 10,
            end: 5,
            reserved: vec![],
            source: EphemeralSource::Fallback {
                reason: "test".into(),
            },
        };
        assert_eq!(odd.len(), 0);
        assert!(odd.is_empty());
    }
}
