//! Port knowledge.

/// Why a typed port is not a port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortParseError {
    #[error("a port number is needed (0–65535)")]
    Empty,
    #[error("'{0}' is not a port number (0–65535)")]
    NotANumber(String),
    #[error("{0} is not a port: ports go from 0 to 65535")]
    OutOfRange(String),
}

pub fn parse_port(text: &str) -> Result<u16, PortParseError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(PortParseError::Empty);
    }
    if !t.bytes().all(|b| b.is_ascii_digit()) {
        if t.starts_with('-') && t[1..].bytes().all(|b| b.is_ascii_digit()) && t.len() > 1 {
            return Err(PortParseError::OutOfRange(t.to_owned()));
        }
        return Err(PortParseError::NotANumber(t.to_owned()));
    }
    t.parse::<u16>()
        .map_err(|_| PortParseError::OutOfRange(t.to_owned()))
}
