//! The text of a row that free words are looked for in: one writer (the columns' search
//! texts, see [`crate::model::column`]), used row by row and for a whole table at once.

use std::collections::HashMap;

use crate::model::column::{SearchText, process_text, write_row_text};
use crate::model::{Snapshot, Socket};

/// Every row's lower-case text for free-text search, built once per snapshot so that typing
/// in the filter box only searches, and does not rebuild 100,000 strings per keystroke.
#[derive(Debug, Default)]
pub struct RowTexts {
    text: String,
    /// `ends[i]` is where row `i`'s text ends in `text`.
    ends: Vec<usize>,
}

impl RowTexts {
    pub fn build(snap: &Snapshot) -> RowTexts {
        // Several machines: each machine's rows against its own processes and users.
        if snap.machines_cover_rows() {
            let mut all = RowTexts::default();
            for machine in &snap.machines {
                let part = RowTexts::build(&machine.table);
                let offset = all.text.len();
                all.text.push_str(&part.text);
                all.ends.extend(part.ends.into_iter().map(|e| e + offset));
            }
            return all;
        }
        // What a process and a user add to each of their rows, lower-cased once.
        let processes: HashMap<u32, String> = snap
            .processes
            .values()
            .map(|p| (p.pid, process_text(p)))
            .collect();
        let users: HashMap<u32, String> = snap
            .users
            .iter()
            .map(|(uid, name)| (*uid, name.to_lowercase()))
            .collect();
        let shared = SearchText {
            snap,
            processes: Some(&processes),
            users: Some(&users),
        };
        let build = |sockets: &[Socket]| {
            let mut text = String::with_capacity(sockets.len() * 64);
            let mut ends = Vec::with_capacity(sockets.len());
            for s in sockets {
                write_row_text(&mut text, &shared, s);
                ends.push(text.len());
            }
            (text, ends)
        };
        // Large tables are split in two halves built on two threads: this runs on every new
        // snapshot while a free-text filter is in force.
        if snap.sockets.len() < 20_000 {
            let (text, ends) = build(&snap.sockets);
            return RowTexts { text, ends };
        }
        let (first, second) = snap.sockets.split_at(snap.sockets.len() / 2);
        let ((mut text, mut ends), (text2, ends2)) = std::thread::scope(|scope| {
            let other = scope.spawn(|| build(second));
            let mine = build(first);
            // A panic in the other half would be a bug here; build it on this thread then.
            let theirs = other.join().unwrap_or_else(|_| build(second));
            (mine, theirs)
        });
        let offset = text.len();
        text.push_str(&text2);
        ends.extend(ends2.into_iter().map(|e| e + offset));
        RowTexts { text, ends }
    }

    /// Row `i`'s text.
    pub fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.text.get(start..end)
    }
}

/// One row's text, as [`RowTexts`] holds it: for rows checked one at a time (the CLI).
pub(super) fn row_text(snap: &Snapshot, s: &Socket) -> String {
    let mut text = String::with_capacity(128);
    let one = SearchText {
        snap,
        processes: None,
        users: None,
    };
    write_row_text(&mut text, &one, s);
    text
}
