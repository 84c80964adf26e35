//! The registry's CSV, read with the `csv` crate when portscope is built, and the plain record
//! list that this leaves for the program to read at run time.
//!
//! The build script (`build.rs`, which compiles this same file) decodes the CSV once — RFC 4180
//! quoting, doubled quotes, CRLF or LF, blank lines — into [`encode`]'s format: one record per
//! [`RECORD_END`], fields separated by [`FIELD_END`], each record led by the line it starts on.
//! The program embeds that list and walks it with [`RecordReader`], whose fields are slices of
//! the embedded text: the one-time load neither unescapes nor copies anything.
//!
//! A field holding one of the two separators cannot be listed; its record is listed as an
//! error with its line instead, and the registry reports it as a row left out, like any other
//! row it cannot use.

/// Ends a record in the list (ASCII record separator).
pub const RECORD_END: char = '\u{1e}';
/// Ends the line number and each field but the last (ASCII unit separator).
pub const FIELD_END: char = '\u{1f}';
/// Leads the line number of a record that could not be listed; the problem follows.
const FAILED: char = '!';

// Run by build.rs, and by the tests; the program itself only reads the list.
#[cfg_attr(not(test), allow(dead_code))]
/// Decodes CSV text (a leading byte-order mark is skipped) into the record list.
pub fn encode(csv_text: &str) -> String {
    let text = csv_text.strip_prefix('\u{feff}').unwrap_or(csv_text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut record = csv::ByteRecord::new();
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    loop {
        let line = match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => start_line(text, record.position()),
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line);
                push_failed(&mut out, line, &e.to_string());
                continue;
            }
        };
        let separators = [RECORD_END, FIELD_END].map(|c| c as u8);
        if record.iter().flatten().any(|b| separators.contains(b)) {
            push_failed(
                &mut out,
                line,
                "a field holds an ASCII separator control character",
            );
            continue;
        }
        out.push_str(&line.to_string());
        for field in &record {
            out.push(FIELD_END);
            out.push_str(&String::from_utf8_lossy(field));
        }
        out.push(RECORD_END);
    }
    out
}

#[cfg_attr(not(test), allow(dead_code))]
fn push_failed(out: &mut String, line: u64, problem: &str) {
    out.push(FAILED);
    out.push_str(&line.to_string());
    out.push(FIELD_END);
    out.push_str(&problem.replace([RECORD_END, FIELD_END], " "));
    out.push(RECORD_END);
}

// Run by build.rs, and by the tests; the program itself only reads the list.
#[cfg_attr(not(test), allow(dead_code))]
/// The line a record starts on. The crate gives where it was when the record began, before
/// any blank lines it then skipped: those are counted here.
fn start_line(text: &str, position: Option<&csv::Position>) -> u64 {
    let Some(position) = position else { return 0 };
    let at = usize::try_from(position.byte()).unwrap_or(usize::MAX);
    let blank = text
        .as_bytes()
        .get(at..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&b| matches!(b, b'\r' | b'\n'));
    position.line() + blank.filter(|&&b| b == b'\n').count() as u64
}

/// A record that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvError {
    /// Line the record starts on (1-based).
    pub line: u64,
    pub problem: String,
}

/// Reads records one at a time from a list [`encode`] made.
pub struct RecordReader<'a> {
    list: &'a str,
    pos: usize,
}

impl<'a> RecordReader<'a> {
    pub fn new(list: &'a str) -> RecordReader<'a> {
        RecordReader { list, pos: 0 }
    }

    /// Reads the next record into `fields`, returning the line it starts on, `None` at the
    /// end, or the error the record was listed with.
    pub fn next_record(&mut self, fields: &mut Vec<&'a str>) -> Option<Result<u64, CsvError>> {
        fields.clear();
        let rest = self.list.get(self.pos..).filter(|rest| !rest.is_empty())?;
        // One pass over the record's bytes: both separators are ASCII, so every piece lies
        // on character boundaries.
        let (record_end, field_end) = (RECORD_END as u8, FIELD_END as u8);
        let mut head = None;
        let mut start = 0;
        let mut end = rest.len();
        for (i, &b) in rest.as_bytes().iter().enumerate() {
            if b == field_end || b == record_end {
                let piece = rest.get(start..i).unwrap_or_default();
                match head {
                    None => head = Some(piece),
                    Some(_) => fields.push(piece),
                }
                start = i + 1;
                if b == record_end {
                    end = i;
                    break;
                }
            }
        }
        if end == rest.len() && start <= end {
            // The list ended without a separator.
            let piece = rest.get(start..).unwrap_or_default();
            match head {
                None => head = Some(piece),
                Some(_) => fields.push(piece),
            }
        }
        self.pos += end + 1;
        let head = head.unwrap_or_default();
        let (failed, line) = match head.strip_prefix(FAILED) {
            Some(line) => (true, line),
            None => (false, head),
        };
        let line = line.parse().unwrap_or(0);
        if failed {
            let problem = fields
                .first()
                .copied()
                .unwrap_or("unreadable record")
                .to_owned();
            fields.clear();
            return Some(Err(CsvError { line, problem }));
        }
        Some(Ok(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Record = Result<(u64, Vec<String>), CsvError>;

    /// Reads CSV text as the program reads the registry: listed, then walked.
    fn read_all(text: &str) -> Vec<Record> {
        let list = encode(text);
        let mut reader = RecordReader::new(&list);
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
        assert_eq!(read_all("\"\"\n"), [ok(1, &[""])]);
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
    fn blank_lines_are_skipped_and_counted() {
        assert_eq!(read_all("a\r\n\r\n\nb\n"), [ok(1, &["a"]), ok(4, &["b"])]);
    }

    #[test]
    fn malformed_quoting_is_read_as_the_csv_crate_reads_it() {
        // Text after a closing quote joins the field; a quote never closed runs to the end.
        // Whoever reads the records then finds the wrong number of fields, on this line.
        assert_eq!(
            read_all("\"a\"b,c\nd\n\"never closed\nx\n"),
            [
                ok(1, &["ab", "c"]),
                ok(2, &["d"]),
                ok(3, &["never closed\nx\n"])
            ]
        );
    }

    #[test]
    fn a_field_holding_a_separator_is_reported_with_its_line() {
        let records = read_all("a,b\nc,\"d\u{1e}\"\ne,\u{1f}f\ng\n");
        assert_eq!(records.len(), 4);
        assert_eq!(records[0], ok(1, &["a", "b"]));
        assert!(
            matches!(&records[1], Err(CsvError { line: 2, problem }) if problem.contains("separator"))
        );
        assert!(matches!(&records[2], Err(CsvError { line: 3, .. })));
        assert_eq!(records[3], ok(4, &["g"]));
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

        /// Reads everything, checking what holds for any text: reading ends, lines never go
        /// back and stay within the text, every rejected record says why, and every record read
        /// is exactly what the `csv` crate reads.
        fn read_checked(text: &str) -> Result<Vec<Record>, TestCaseError> {
            let out = read_all(text);
            let max_line = 1 + text.bytes().filter(|&b| b == b'\n').count() as u64;
            let mut last_line = 1;
            for result in &out {
                let line = match result {
                    Ok((line, _)) => *line,
                    Err(e) => {
                        prop_assert!(!e.problem.trim().is_empty(), "an error without a message");
                        e.line
                    }
                };
                // A lone CR ends a record without starting a line.
                prop_assert!(
                    line >= last_line && line <= max_line,
                    "line {line} after {last_line}"
                );
                last_line = line;
            }
            let body = text.strip_prefix('\u{feff}').unwrap_or(text);
            let expected: Vec<Vec<String>> = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(body.as_bytes())
                .byte_records()
                .filter_map(Result::ok)
                .map(|r| {
                    r.iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect()
                })
                .collect();
            prop_assert_eq!(out.len(), expected.len());
            for (record, fields) in out.iter().zip(&expected) {
                match record {
                    Ok((_, read)) => prop_assert_eq!(read, fields),
                    Err(_) => prop_assert!(
                        fields.iter().any(|f| f.contains([RECORD_END, FIELD_END])),
                        "{fields:?} rejected"
                    ),
                }
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
                    "\u{fffd}", "\u{1e}", "\u{1f}", "!",
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
            // Any control character but the two separators, which a registry field cannot hold.
            let field = "[a-z,\"\r\n é!\u{0}-\u{1d}]{0,12}";
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
