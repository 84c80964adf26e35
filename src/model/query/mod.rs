//! The filter language of the socket table: free words plus `key:value` terms.
//!
//! Plain words work as in any search box — every word must appear somewhere in the row —
//! because that is what people type first and it needs no help. But a word cannot say *which* column it
//! means: `80` also finds PID 1808 and address 10.80.0.1, and no word can say "not TIME_WAIT"
//! or "any port from 8000 to 8999". Terms such as `port:80`, `state:listen` or
//! `-state:time_wait` say exactly that, in the same box.
//!
//! The text is parsed once, when it changes; [`Query::matches`] then runs for every row of
//! tables that can hold 100,000 sockets. So parsing does all the work that can be done once
//! (numbers, addresses, states, lower-casing), terms are checked cheapest first, and only free
//! words build a per-row string — after every other term has already passed.
//!
//! A mistake is reported as a [`QueryError`] with the byte span of the offending term, a
//! message and a hint, for showing right under the filter box.
//!
//! The parts: `parse` turns text into terms, `matching` checks a term against a row,
//! `texts` builds the row texts free words are looked for in, `help` says how to write it.

mod help;
mod matching;
mod parse;
mod texts;

use std::ops::Range;
use std::str::FromStr;

use super::{Snapshot, Socket};
use matching::Test;
use parse::{parse_term, tokens};

pub use help::{HELP, SYNTAX};
pub(crate) use parse::suggest;
pub use texts::RowTexts;

/// Parses the text of the filter box.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    Query::parse(text)
}

/// A parsed filter: rows must pass every term.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// Cheapest first; free text last.
    terms: Vec<Term>,
}

/// Why the text of the filter box is not a valid query.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", with_dash(.hint))]
pub struct QueryError {
    /// Byte range of the offending term in the text.
    pub span: Range<usize>,
    /// What is wrong, e.g. "unknown state 'listn'".
    pub message: String,
    /// How to put it right, e.g. "did you mean 'listen'?".
    pub hint: Option<String>,
}

fn with_dash(hint: &Option<String>) -> String {
    hint.as_ref()
        .map_or_else(String::new, |h| format!(" — {h}"))
}

impl Query {
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let mut terms = Vec::new();
        for token in tokens(text)? {
            let span = token.start..token.start + token.raw.len();
            let term = parse_term(token.raw).map_err(|p| QueryError {
                span,
                message: p.message,
                hint: Some(p.hint),
            })?;
            terms.push(term);
        }
        terms.sort_by_key(|t| t.test.cost());
        Ok(Query { terms })
    }

    /// The query, or — when the text does not parse — its words as plain text to look for,
    /// which is what the filter box meant before it knew terms (for saved filters).
    pub fn parse_lossy(text: &str) -> Query {
        Query::parse(text).unwrap_or_else(|_| Query {
            terms: text
                .split_whitespace()
                .map(|w| Term {
                    negated: false,
                    test: Test::Text(w.to_lowercase()),
                })
                .collect(),
        })
    }

    /// No terms: every row passes.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn matches(&self, snap: &Snapshot, socket: &Socket) -> bool {
        self.matches_with_text(snap, socket, None)
    }

    /// Whether any term looks for free text (and so needs each row's text).
    pub fn needs_text(&self) -> bool {
        self.terms.iter().any(|t| matches!(t.test, Test::Text(_)))
    }

    /// [`Query::matches`] with the row's text already at hand (see [`RowTexts`]).
    pub fn matches_with_text(&self, snap: &Snapshot, socket: &Socket, text: Option<&str>) -> bool {
        // A row is read against its own machine's processes, users and range.
        let snap = snap.of(socket);
        let mut haystack: Option<String> = None;
        self.terms.iter().all(|term| {
            let hit = match &term.test {
                Test::Text(word) => match text {
                    Some(t) => t.contains(word.as_str()),
                    None => haystack
                        .get_or_insert_with(|| texts::row_text(snap, socket))
                        .contains(word.as_str()),
                },
                test => test.matches(snap, socket),
            };
            hit != term.negated
        })
    }
}

impl FromStr for Query {
    type Err = QueryError;

    fn from_str(text: &str) -> Result<Query, QueryError> {
        Query::parse(text)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Term {
    negated: bool,
    test: Test,
}

#[cfg(test)]
mod tests;
