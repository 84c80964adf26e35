//! A small RFC 4180 reader that borrows fields from the text it reads.
//!
//! The registry is embedded as a `&'static str`, so almost every field can simply point into
//! it; only fields containing doubled quotes (`""`) need a copy. Compared with a general CSV
//! library, which copies every field into an owned record, this makes the one-time load of the
//! registry's 14,000 rows several times cheaper in both time and memory.
//!
//! Splitting happens only at ASCII bytes (`,` `"` CR LF), which never occur inside a multi-byte
//! UTF-8 sequence, so every slice taken lies on character boundaries.

use std::borrow::Cow;

/// A record that could not be read; reading goes on with the next line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CsvError {
    /// Line the record starts on (1-based).
    pub line: u64,
    pub problem: String,
}

/// Reads records one at a time from CSV text.
pub(super) struct CsvReader<'a> {
    text: &'a str,
    pos: usize,
    /// 1-based line number at `pos`.
    line: u64,
}

impl<'a> CsvReader<'a> {
    /// A reader over `text`; a leading UTF-8 byte-order mark is skipped.
    pub(super) fn new(text: &'a str) -> CsvReader<'a> {
        CsvReader {
            text: text.strip_prefix('\u{feff}').unwrap_or(text),
            pos: 0,
            line: 1,
        }
    }

    /// Reads the next record into `fields`, returning the line it starts on, `None` at the end,
    /// or an error for a malformed record (which has then been skipped). Blank lines are
    /// skipped. Records may end in CRLF, LF or the end of the text.
    pub(super) fn next_record(
        &mut self,
        fields: &mut Vec<Cow<'a, str>>,
    ) -> Option<Result<u64, CsvError>> {
        fields.clear();
        while let Some(rest) = self.rest() {
            // Skip blank lines between records.
            let blank = rest.len() - rest.trim_start_matches(['\r', '\n']).len();
            if blank == 0 {
                break;
            }
            self.line += count_newlines(&rest[..blank]);
            self.pos += blank;
        }
        self.rest()?;
        let start_line = self.line;
        loop {
            let field = if self.text.as_bytes().get(self.pos) == Some(&b'"') {
                match self.quoted_field() {
                    Ok(field) => field,
                    Err(problem) => {
                        self.skip_line();
                        return Some(Err(CsvError {
                            line: start_line,
                            problem,
                        }));
                    }
                }
            } else {
                self.unquoted_field()
            };
            fields.push(field);
            match self.text.as_bytes().get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'\r' | b'\n') | None => {
                    self.end_of_line();
                    return Some(Ok(start_line));
                }
                Some(_) => {
                    self.skip_line();
                    return Some(Err(CsvError {
                        line: start_line,
                        problem: "unexpected text after a closing quote".to_owned(),
                    }));
                }
            }
        }
    }

    /// The unread text, or `None` at the end.
    fn rest(&self) -> Option<&'a str> {
        self.text.get(self.pos..).filter(|rest| !rest.is_empty())
    }

    fn unquoted_field(&mut self) -> Cow<'a, str> {
        let rest = self.rest().unwrap_or_default();
        // A byte scan: much faster than a `char` pattern, and safe because all three are ASCII.
        let end = rest
            .bytes()
            .position(|b| matches!(b, b',' | b'\r' | b'\n'))
            .unwrap_or(rest.len());
        self.pos += end;
        Cow::Borrowed(&rest[..end])
    }

    /// Reads a quoted field starting at the opening quote; leaves `pos` after the closing one.
    fn quoted_field(&mut self) -> Result<Cow<'a, str>, String> {
        let body = self.text.get(self.pos + 1..).unwrap_or_default();
        let mut owned: Option<String> = None;
        let mut from = 0;
        loop {
            let Some(quote) = body[from..].find('"').map(|i| from + i) else {
                self.line += count_newlines(body);
                self.pos = self.text.len();
                return Err("a quoted field is never closed".to_owned());
            };
            if body.as_bytes().get(quote + 1) == Some(&b'"') {
                // A doubled quote stands for one quote character.
                owned
                    .get_or_insert_with(String::new)
                    .push_str(&body[from..=quote]);
                from = quote + 2;
                continue;
            }
            self.line += count_newlines(&body[..quote]);
            self.pos += quote + 2;
            return Ok(match owned {
                Some(mut text) => {
                    text.push_str(&body[from..quote]);
                    Cow::Owned(text)
                }
                None => Cow::Borrowed(&body[..quote]),
            });
        }
    }

    /// Consumes a line ending (CRLF, LF or a lone CR) at `pos`, if there is one.
    fn end_of_line(&mut self) {
        let rest = self.rest().unwrap_or_default();
        let len = if rest.starts_with("\r\n") {
            2
        } else if rest.starts_with(['\r', '\n']) {
            1
        } else {
            0
        };
        if len > 0 {
            self.pos += len;
            self.line += 1;
        }
    }

    /// After a malformed record: continue at the next line.
    fn skip_line(&mut self) {
        let rest = self.rest().unwrap_or_default();
        self.pos += rest.find(['\r', '\n']).unwrap_or(rest.len());
        self.end_of_line();
    }
}

fn count_newlines(text: &str) -> u64 {
    text.bytes().filter(|&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    type Record = Result<(u64, Vec<String>), CsvError>;

    fn read_all(text: &str) -> Vec<Record> {
        let mut reader = CsvReader::new(text);
        let mut fields = Vec::new();
        let mut out = Vec::new();
        while let Some(result) = reader.next_record(&mut fields) {
            out.push(result.map(|line| (line, fields.iter().map(|f| f.to_string()).collect())));
        }
        out
    }

    fn ok(line: u64, fields: &[&str]) -> Record {
        Ok((line, fields.iter().map(|f| f.to_string()).collect()))
    }

    #[test]
    fn plain_records_with_either_line_ending() {
        assert_eq!(
            read_all("a,b\r\nc,d\ne,f"),
            [ok(1, &["a", "b"]), ok(2, &["c", "d"]), ok(3, &["e", "f"])]
        );
        assert_eq!(read_all(""), []);
        assert_eq!(read_all("\u{feff}x\r\n"), [ok(1, &["x"])]);
        assert_eq!(read_all(",,\n"), [ok(1, &["", "", ""])]);
    }

    #[test]
    fn quoted_fields_keep_commas_newlines_and_quotes() {
        assert_eq!(
            read_all("\"a,b\",\"line 1\nline 2\",\"say \"\"hi\"\"\"\r\nnext,\"\"\r\n"),
            [
                ok(1, &["a,b", "line 1\nline 2", "say \"hi\""]),
                ok(3, &["next", ""])
            ]
        );
    }

    #[test]
    fn borrows_unless_unescaping_is_needed() {
        let mut reader = CsvReader::new("plain,\"quoted\",\"es\"\"caped\"\n");
        let mut fields = Vec::new();
        assert_eq!(reader.next_record(&mut fields), Some(Ok(1)));
        assert!(matches!(fields[0], Cow::Borrowed("plain")));
        assert!(matches!(fields[1], Cow::Borrowed("quoted")));
        assert!(matches!(&fields[2], Cow::Owned(s) if s == "es\"caped"));
    }

    #[test]
    fn blank_lines_are_skipped_and_counted() {
        assert_eq!(read_all("a\r\n\r\n\nb\n"), [ok(1, &["a"]), ok(4, &["b"])]);
    }

    #[test]
    fn malformed_records_are_reported_and_skipped() {
        let records = read_all("\"a\"b,c\nd\n\"never closed\nx\n");
        assert_eq!(records.len(), 3);
        assert!(matches!(&records[0], Err(CsvError { line: 1, .. })));
        assert_eq!(records[1], ok(2, &["d"]));
        assert!(
            matches!(&records[2], Err(CsvError { line: 3, problem }) if problem.contains("never closed"))
        );
    }

    /// Hostile registry files: 20,000 arbitrary byte strings, 20,000 strings made of CSV's own
    /// syntax, and 10,000 files written by the `csv` crate that must read back field for field
    /// (50,000 inputs; the other 53,000 of the hostile-input suite are in tests/hostile.rs).
    /// The seed is fixed, so a failure repeats.
    mod hostile {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

        use super::*;

        fn runner(cases: u32) -> TestRunner {
            let config = Config {
                cases,
                failure_persistence: None,
                ..Config::default()
            };
            TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
        }

        /// Reads everything, checking what holds for any text: the reader ends, lines only
        /// go forward, and every rejected record says why.
        fn read_checked(text: &str) -> Result<Vec<Record>, TestCaseError> {
            let mut reader = CsvReader::new(text);
            let mut fields = Vec::new();
            let mut out = Vec::new();
            let max_line = 1 + text.bytes().filter(|b| matches!(b, b'\r' | b'\n')).count() as u64;
            let mut last_line = 0;
            while let Some(result) = reader.next_record(&mut fields) {
                prop_assert!(out.len() <= text.len(), "the reader does not advance");
                let line = match &result {
                    Ok(line) => *line,
                    Err(e) => {
                        prop_assert!(!e.problem.trim().is_empty(), "an error without a message");
                        e.line
                    }
                };
                prop_assert!(
                    line > last_line && line <= max_line,
                    "line {line} after {last_line}"
                );
                last_line = line;
                out.push(result.map(|line| (line, fields.iter().map(|f| f.to_string()).collect())));
            }
            Ok(out)
        }

        #[test]
        fn arbitrary_bytes_never_panic() {
            let bytes = prop::collection::vec(any::<u8>(), 0..400);
            runner(20_000)
                .run(&bytes, |bytes| {
                    read_checked(&String::from_utf8_lossy(&bytes)).map(drop)
                })
                .unwrap();
        }

        #[test]
        fn csv_syntax_soup_never_panics() {
            let soup = prop::collection::vec(
                prop::sample::select(vec![
                    ",", "\"", "\"\"", "\r", "\n", "\r\n", "a", "é", " ", "\u{feff}", "80",
                    "\u{fffd}",
                ]),
                0..80,
            )
            .prop_map(|pieces| pieces.concat());
            runner(20_000)
                .run(&soup, |text| read_checked(&text).map(drop))
                .unwrap();
        }

        #[test]
        fn what_the_csv_crate_writes_reads_back_field_for_field() {
            let field = "[a-z,\"\r\n é\u{0}-\u{1f}]{0,12}";
            let records = prop::collection::vec(prop::collection::vec(field, 1..6), 1..6);
            runner(10_000)
                .run(&records, |records| {
                    let mut w = csv::WriterBuilder::new()
                        .flexible(true)
                        .from_writer(Vec::new());
                    for r in &records {
                        w.write_record(r)
                            .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    }
                    let bytes = w
                        .into_inner()
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    let read: Vec<Vec<String>> = read_checked(&text)?
                        .into_iter()
                        .map(|r| r.map(|(_, fields)| fields))
                        .collect::<Result<_, _>>()
                        .map_err(|e| TestCaseError::fail(format!("{e:?} in {text:?}")))?;
                    prop_assert_eq!(read, records, "{:?}", text);
                    Ok(())
                })
                .unwrap();
        }
    }
}
