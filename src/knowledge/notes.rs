//! Plain-language notes on ports people actually meet.
//!
//! IANA's registry says who registered a number, which is often not what runs there: 5173 is
//! unassigned but is where Vite serves, and 3000 is registered to a German banking protocol
//! while every Rails and Node tutorial uses it. These notes, written for this project in
//! `assets/port-notes.toml`, say what a port usually is in practice and what to watch out for.
//! They are parsed on first use; a test proves the shipped file parses and passes every check,
//! and if it ever did not, lookups would find no notes and [`notes_load_error`] would say why.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::transport::Transport;

static NOTES_TOML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/port-notes.toml"
));

static NOTES: LazyLock<Result<Vec<PortNote>, NotesError>> =
    LazyLock::new(|| parse_notes(NOTES_TOML));

/// What a port usually is in practice, in plain words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortNote {
    pub port: u16,
    /// `None` when the note applies to TCP and UDP alike.
    #[serde(default)]
    pub transport: Option<Transport>,
    /// A short name for what runs there, such as "Vite dev server".
    pub title: String,
    /// Two to four sentences.
    pub text: String,
    /// One or two sentences on the risks, where there are any.
    #[serde(default)]
    pub security: Option<String>,
}

/// Why the notes file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotesError {
    #[error("the port notes are not valid TOML for the expected layout: {0}")]
    Syntax(String),
    #[error("port note for {port}: {problem}")]
    Invalid { port: u16, problem: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotesFile {
    #[serde(rename = "note")]
    notes: Vec<PortNote>,
}

/// Parses and checks a notes file; the notes come back sorted by port.
fn parse_notes(text: &str) -> Result<Vec<PortNote>, NotesError> {
    let file: NotesFile = toml::from_str(text).map_err(|e| NotesError::Syntax(e.to_string()))?;
    let mut notes = file.notes;
    for note in &notes {
        check_note(note).map_err(|problem| NotesError::Invalid {
            port: note.port,
            problem,
        })?;
    }
    // Stable, so that notes keep the file's order within a port.
    notes.sort_by_key(|note| note.port);
    for pair in notes.windows(2) {
        if let [a, b] = pair
            && a.port == b.port
            && Transport::matches(a.transport, b.transport)
        {
            return Err(NotesError::Invalid {
                port: b.port,
                problem: "more than one note for the same port and transport".into(),
            });
        }
    }
    Ok(notes)
}

/// The checks every note must pass to be shown at all.
fn check_note(note: &PortNote) -> Result<(), String> {
    if !matches!(note.transport, None | Some(Transport::Tcp | Transport::Udp)) {
        return Err("transport must be \"tcp\", \"udp\" or absent".into());
    }
    if note.title.trim().is_empty() || note.title.contains('\n') {
        return Err("title must be a single non-empty line".into());
    }
    if note.text.trim().is_empty() {
        return Err("text must not be empty".into());
    }
    if note
        .security
        .as_deref()
        .is_some_and(|s| s.trim().is_empty())
    {
        return Err("security, when present, must not be empty".into());
    }
    Ok(())
}

/// All notes, sorted by port. Empty if the notes file could not be used (see
/// [`notes_load_error`]).
pub fn notes() -> &'static [PortNote] {
    match &*NOTES {
        Ok(notes) => notes,
        Err(_) => &[],
    }
}

/// Why the notes could not be loaded, if that happened.
pub fn notes_load_error() -> Option<&'static NotesError> {
    NOTES.as_ref().err()
}

/// The note for `port` and `transport`; `transport: None` takes the first note for the port.
pub fn note(port: u16, transport: Option<Transport>) -> Option<&'static PortNote> {
    let all = notes();
    let first = all.partition_point(|note| note.port < port);
    all.get(first..)?
        .iter()
        .take_while(|note| note.port == port)
        .find(|note| Transport::matches(note.transport, transport))
}

/// Parses the notes now rather than on the first lookup.
pub(crate) fn preload() {
    LazyLock::force(&NOTES);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts sentences by their ends: `.`, `!` or `?` followed by whitespace or the end.
    fn sentences(text: &str) -> usize {
        let chars: Vec<char> = text.trim().chars().collect();
        chars
            .iter()
            .enumerate()
            .filter(|&(i, c)| {
                matches!(c, '.' | '!' | '?') && chars.get(i + 1).is_none_or(|n| n.is_whitespace())
            })
            .count()
    }

    #[test]
    fn shipped_notes_parse_and_pass_every_check() {
        let parsed = parse_notes(NOTES_TOML);
        let notes = match parsed {
            Ok(notes) => notes,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(notes_load_error(), None);
        assert!(notes.len() >= 70, "only {} notes", notes.len());
        for note in &notes {
            let what = format!("note for port {} ({})", note.port, note.title);
            assert!(note.title.chars().count() <= 40, "{what}: title too long");
            assert_eq!(
                note.title.trim(),
                note.title,
                "{what}: title has stray spaces"
            );
            let n = sentences(&note.text);
            assert!((2..=4).contains(&n), "{what}: text has {n} sentences");
            assert!(
                note.text.trim_end().ends_with(['.', '!', '?', ')']),
                "{what}"
            );
            if let Some(security) = &note.security {
                let n = sentences(security);
                assert!((1..=2).contains(&n), "{what}: security has {n} sentences");
            }
            for text in [Some(&note.text), note.security.as_ref()]
                .into_iter()
                .flatten()
            {
                assert!(!text.contains("  "), "{what}: double space");
                assert!(!text.contains("e.g."), "{what}: avoid abbreviations");
            }
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(
            note(5173, Some(Transport::Tcp)).map(|n| n.title.as_str()),
            Some("Vite dev server")
        );
        assert!(note(5173, None).is_some());
        assert!(note(53, Some(Transport::Udp)).is_some());
        assert!(note(53, Some(Transport::Tcp)).is_some());
        assert!(note(5353, Some(Transport::Udp)).is_some());
        assert!(note(0, None).is_some());
        assert!(note(60296, None).is_none());
        assert!(
            note(2375, Some(Transport::Tcp))
                .and_then(|n| n.security.as_ref())
                .is_some()
        );
    }

    #[test]
    fn bad_files_are_rejected() {
        let missing_title = "[[note]]\nport = 1\ntext = \"A. B.\"\n";
        assert!(matches!(
            parse_notes(missing_title),
            Err(NotesError::Syntax(_))
        ));
        let bad_port = "[[note]]\nport = 70000\ntitle = \"x\"\ntext = \"A. B.\"\n";
        assert!(matches!(parse_notes(bad_port), Err(NotesError::Syntax(_))));
        let unknown_field = "[[note]]\nport = 1\ntitle = \"x\"\ntext = \"A.\"\ncolour = 1\n";
        assert!(matches!(
            parse_notes(unknown_field),
            Err(NotesError::Syntax(_))
        ));
        let sctp = "[[note]]\nport = 1\ntransport = \"sctp\"\ntitle = \"x\"\ntext = \"A.\"\n";
        assert!(matches!(
            parse_notes(sctp),
            Err(NotesError::Invalid { port: 1, .. })
        ));
        let duplicate = "[[note]]\nport = 1\ntitle = \"x\"\ntext = \"A.\"\n\
                         [[note]]\nport = 1\ntransport = \"udp\"\ntitle = \"y\"\ntext = \"B.\"\n";
        assert!(matches!(
            parse_notes(duplicate),
            Err(NotesError::Invalid { port: 1, .. })
        ));
        let split = "[[note]]\nport = 1\ntransport = \"tcp\"\ntitle = \"x\"\ntext = \"A.\"\n\
                     [[note]]\nport = 1\ntransport = \"udp\"\ntitle = \"y\"\ntext = \"B.\"\n";
        assert_eq!(parse_notes(split).map(|n| n.len()), Ok(2));
    }
}
