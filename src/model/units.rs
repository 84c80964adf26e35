//! Traffic numbers as people read them: `12.3 KiB`, `1.2 MiB/s`, `0.4 ms`, `85 ms`.
//!
//! One place, so the table, the status bar and the groups write a rate the same way.

use bytesize::ByteSize;

/// A byte count in binary units: `999 B`, `12.3 KiB`, `4.0 GiB`.
pub fn bytes(n: u64) -> String {
    ByteSize(n).display().iec().to_string()
}

/// Bytes per second: `0 B/s`, `1.2 MiB/s`.
pub fn rate(per_second: u64) -> String {
    format!("{}/s", bytes(per_second))
}

/// A round-trip time from microseconds: a tenth of a millisecond below 10 ms (`0.4 ms`),
/// whole milliseconds below a second (`85 ms`), then seconds (`1.2 s`).
pub fn rtt(us: u32) -> String {
    let ms = f64::from(us) / 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.1} s", ms / 1000.0)
    }
}

/// How long something lasted, from milliseconds: `0.4 ms`, `85 ms`, `12.3 s`, `4 min`, `2.5 h`.
pub fn duration_ms(ms: f64) -> String {
    if ms < 1000.0 {
        rtt((ms * 1000.0).round() as u32)
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else if ms < 3_600_000.0 {
        format!("{:.0} min", ms / 60_000.0)
    } else {
        format!("{:.1} h", ms / 3_600_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_in_human_units() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(12_595), "12.3 KiB");
        assert_eq!(rate(1_258_291), "1.2 MiB/s");
        assert_eq!(rate(0), "0 B/s");
        assert_eq!(duration_ms(0.42), "0.4 ms");
        assert_eq!(duration_ms(85.0), "85 ms");
        assert_eq!(duration_ms(12_345.0), "12.3 s");
        assert_eq!(duration_ms(240_000.0), "4 min");
        assert_eq!(duration_ms(9_000_000.0), "2.5 h");
        assert_eq!(rtt(400), "0.4 ms");
        assert_eq!(rtt(9_949), "9.9 ms");
        assert_eq!(rtt(85_000), "85 ms");
        assert_eq!(rtt(1_200_000), "1.2 s");
    }
}
