//! Reading a port number typed by a person, in the "Go to port" box or on the command line.
//!
//! Only plain decimal numbers are accepted. Anything else is reported with a message that says
//! what was wrong, because a silently reinterpreted input ("0x50" read as 80, "-1" wrapped to
//! 65535) would show information about the wrong port.

/// Why a typed port number was not accepted. The messages are meant to be shown as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortParseError {
    #[error("enter a port number from 0 to 65535")]
    Empty,
    #[error("{0:?} is not a port number; enter a number from 0 to 65535")]
    NotANumber(String),
    #[error("ports cannot be negative; enter a number from 0 to 65535")]
    Negative,
    #[error("{0} is too large; ports go from 0 to 65535")]
    TooLarge(String),
    #[error("{0:?} looks like a hexadecimal, octal or binary number; enter the port in decimal")]
    NotDecimal(String),
}

/// Parses a port number typed by a person. Surrounding whitespace is ignored.
pub fn parse_port(input: &str) -> Result<u16, PortParseError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(PortParseError::Empty);
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        // All digits, so the only possible failure is overflow.
        return text
            .parse::<u16>()
            .map_err(|_| PortParseError::TooLarge(text.to_owned()));
    }
    if let Some(rest) = text.strip_prefix('-')
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_digit())
    {
        // "-0" is not worth a special case: it is still not how anyone writes a port.
        return Err(PortParseError::Negative);
    }
    let lower = text.to_ascii_lowercase();
    if ["0x", "0o", "0b"]
        .iter()
        .any(|prefix| lower.starts_with(prefix))
        && text.len() > 2
    {
        return Err(PortParseError::NotDecimal(text.to_owned()));
    }
    Err(PortParseError::NotANumber(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_decimal_with_spaces() {
        assert_eq!(parse_port("80"), Ok(80));
        assert_eq!(parse_port(" 80 "), Ok(80));
        assert_eq!(parse_port("\t443\n"), Ok(443));
        assert_eq!(parse_port("0"), Ok(0));
        assert_eq!(parse_port("65535"), Ok(65535));
        assert_eq!(parse_port("008080"), Ok(8080));
    }

    #[test]
    fn rejects_everything_else_clearly() {
        assert_eq!(parse_port(""), Err(PortParseError::Empty));
        assert_eq!(parse_port("   "), Err(PortParseError::Empty));
        assert_eq!(
            parse_port("abc"),
            Err(PortParseError::NotANumber("abc".into()))
        );
        assert_eq!(parse_port("-1"), Err(PortParseError::Negative));
        assert_eq!(
            parse_port("65536"),
            Err(PortParseError::TooLarge("65536".into()))
        );
        assert_eq!(
            parse_port("99999999999999999999999"),
            Err(PortParseError::TooLarge("99999999999999999999999".into()))
        );
        assert_eq!(
            parse_port("0x50"),
            Err(PortParseError::NotDecimal("0x50".into()))
        );
        assert_eq!(
            parse_port("0X50"),
            Err(PortParseError::NotDecimal("0X50".into()))
        );
        assert_eq!(
            parse_port("+80"),
            Err(PortParseError::NotANumber("+80".into()))
        );
        assert_eq!(
            parse_port("8 0"),
            Err(PortParseError::NotANumber("8 0".into()))
        );
        assert_eq!(
            parse_port("80.5"),
            Err(PortParseError::NotANumber("80.5".into()))
        );
        assert_eq!(
            parse_port("８０"),
            Err(PortParseError::NotANumber("８０".into()))
        );
        assert_eq!(parse_port("-"), Err(PortParseError::NotANumber("-".into())));
    }

    #[test]
    fn messages_read_well() {
        let message = |s: &str| parse_port(s).map_err(|e| e.to_string()).err();
        assert_eq!(
            message("").as_deref(),
            Some("enter a port number from 0 to 65535")
        );
        assert_eq!(
            message("abc").as_deref(),
            Some("\"abc\" is not a port number; enter a number from 0 to 65535")
        );
        assert_eq!(
            message("65536").as_deref(),
            Some("65536 is too large; ports go from 0 to 65535")
        );
        assert_eq!(
            message("0x50").as_deref(),
            Some(
                "\"0x50\" looks like a hexadecimal, octal or binary number; enter the port in decimal"
            )
        );
    }
}
