//! Text from other users' processes, made safe for whoever reads it.
//!
//! Process names, executables, command lines, user names and reverse-DNS answers are chosen by
//! whoever runs the process or controls the DNS zone. Printed as they are, a name such as
//! `"\x1b[2Kevil\x1b[1A"` erases and rewrites the lines of `sudo portscope list` around it, a
//! newline forges a row, and the Unicode bidi controls (U+202E…) reverse what follows them:
//! any local user could hide their listener from the administrator. [`escape`] shows such
//! characters as visible escapes instead; the terminal output and the window both go through
//! it, and leave the raw text to JSON (whose encoder escapes controls itself) and to filtering.
//!
//! [`shell_quote`] is the other direction: a command line copied from the window must run as
//! the same argv when pasted into a shell, never run what its arguments contain.

use std::borrow::Cow;

use unicode_general_category::{GeneralCategory, get_general_category};

/// `text` with every character that could move the cursor, hide or reorder text shown as a
/// visible escape: `\e` (ESC), `\n`, `\r`, `\t`, `\0`, `\xNN` for the other ASCII controls
/// and DEL, `\u{NN}` for C1 controls, Unicode format characters (bidi embeddings, overrides
/// and isolates, zero-width characters, the byte-order mark, …) and line/paragraph separators.
/// A backslash becomes `\\`, so an escape is never confused with the same letters typed.
/// Everything else, U+FFFD from undecodable bytes included, stays as it is; text with nothing
/// to escape is returned without a copy.
pub fn escape(text: &str) -> Cow<'_, str> {
    let Some(first) = text.find(needs_escape) else {
        return Cow::Borrowed(text);
    };
    let mut out = String::with_capacity(text.len() + 8);
    out.push_str(&text[..first]);
    for c in text[first..].chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\x1b' => out.push_str(r"\e"),
            '\n' => out.push_str(r"\n"),
            '\r' => out.push_str(r"\r"),
            '\t' => out.push_str(r"\t"),
            '\0' => out.push_str(r"\0"),
            c if c.is_ascii_control() => out.push_str(&format!(r"\x{:02x}", u32::from(c))),
            c if needs_escape(c) => out.push_str(&format!(r"\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether [`escape`] changes `c`.
fn needs_escape(c: char) -> bool {
    if c.is_ascii() {
        return c == '\\' || c.is_ascii_control();
    }
    // Control is C1 here; Format holds the bidi controls, zero-width characters and the BOM.
    matches!(
        get_general_category(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// The arguments as one POSIX shell command line that gives back exactly these arguments:
/// `shell_words` quotes every argument the shell would interpret (`$`, backticks, `;`,
/// quotes, spaces, …). Arguments it leaves bare are also single-quoted when they hold
/// anything beyond plain letters, digits and `-_./:,@+%=` — bash's brace (`{a,b}`) and
/// history (`!`) expansions are not POSIX, but a pasted command meets them all the same.
pub fn shell_quote<S: AsRef<str>>(args: &[S]) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:,@+%=".contains(c);
    args.iter()
        .map(|arg| {
            let arg = arg.as_ref();
            match shell_words::quote(arg) {
                // Left bare, so the argument holds no single quote to escape.
                Cow::Borrowed(_) if !arg.chars().all(plain) => format!("'{arg}'"),
                quoted => quoted.into_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_not_copied() {
        for text in [
            "nginx",
            "",
            "python3 -m http.server",
            "naïve café",
            "日本語",
            "\u{fffd}x",
        ] {
            assert!(
                matches!(escape(text), Cow::Borrowed(t) if t == text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn terminal_controls_become_visible_escapes() {
        assert_eq!(escape("\x1b[2Kevil\x1b[1A"), r"\e[2Kevil\e[1A");
        assert_eq!(escape("a\nb\rc\td\0e"), r"a\nb\rc\td\0e");
        assert_eq!(escape("bell\x07 del\x7f"), r"bell\x07 del\x7f");
        // C1: U+009B is a one-character CSI on terminals that honour 8-bit controls.
        assert_eq!(escape("\u{9b}2K\u{85}"), r"\u{9b}2K\u{85}");
    }

    #[test]
    fn bidi_and_invisible_characters_become_visible_escapes() {
        assert_eq!(escape("evil\u{202e}txt.exe"), r"evil\u{202e}txt.exe");
        for c in [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{2066}', '\u{2067}', '\u{2068}',
            '\u{2069}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{feff}',
            '\u{2028}', '\u{2029}', '\u{61c}', '\u{ad}',
        ] {
            let text = format!("a{c}b");
            let shown = escape(&text);
            assert_eq!(
                shown,
                format!("a\\u{{{:x}}}b", u32::from(c)),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    #[test]
    fn a_backslash_stays_distinguishable_from_an_escape() {
        // The two-character text `\e` and the ESC control must not look alike.
        assert_eq!(escape(r"\e"), r"\\e");
        assert_eq!(escape("\x1b"), r"\e");
        assert_ne!(escape(r"\e"), escape("\x1b"));
        assert_eq!(escape(r"C:\dir"), r"C:\\dir");
    }

    #[test]
    fn escaped_text_holds_no_control_or_format_character() {
        let nasty: String = (0u32..0x3000)
            .chain([0xfeff, 0xfff9, 0xe0001, 0x1d173])
            .filter_map(char::from_u32)
            .collect();
        let shown = escape(&nasty);
        assert!(!shown.chars().any(needs_escape_but_backslash), "{shown:?}");
    }

    fn needs_escape_but_backslash(c: char) -> bool {
        c != '\\' && needs_escape(c)
    }

    #[test]
    fn shell_quoting_keeps_plain_arguments_bare() {
        assert_eq!(
            shell_quote(&["python3", "-m", "http.server", "--bind=127.0.0.1", "8000"]),
            "python3 -m http.server '--bind=127.0.0.1' 8000"
        );
        assert_eq!(
            shell_quote(&["/usr/bin/a", "b,c", "x@y:1"]),
            "/usr/bin/a b,c x@y:1"
        );
        assert_eq!(shell_quote::<&str>(&[]), "");
    }

    #[test]
    fn shell_quoting_covers_what_bash_expands_beyond_posix() {
        assert_eq!(shell_quote(&["{a,b}", "!!", "^x"]), "'{a,b}' '!!' '^x'");
        assert_eq!(shell_quote(&["", "it's"]), r"'' 'it'\''s'");
    }

    /// Arguments that run something, or split, or vanish, when a shell reads them bare.
    fn nasty_args(marker: &std::path::Path) -> Vec<String> {
        let m = marker.display();
        vec![
            "/usr/bin/prog".to_owned(),
            format!("$(touch${{IFS}}{m}.dollar)"),
            format!("`touch${{IFS}}{m}.backtick`"),
            format!(";touch${{IFS}}{m}.semicolon"),
            format!("|touch${{IFS}}{m}.pipe"),
            format!("&&touch${{IFS}}{m}.and"),
            "it's \"quoted\"".to_owned(),
            "$HOME".to_owned(),
            "*".to_owned(),
            "{a,b}".to_owned(),
            "~".to_owned(),
            "#comment".to_owned(),
            String::new(),
            "two\nlines\ttab\x1b[2K".to_owned(),
            "back\\slash".to_owned(),
            "--opt=va lue".to_owned(),
        ]
    }

    fn process_with(cmdline: Vec<String>) -> crate::model::ProcessInfo {
        crate::model::ProcessInfo {
            pid: 1,
            name: "x".to_owned(),
            exe: None,
            cmdline,
            uid: None,
            user: None,
            parent_pid: None,
            start_time: None,
        }
    }

    #[test]
    fn a_copied_command_line_splits_back_into_the_same_arguments() {
        let args = nasty_args(std::path::Path::new("/nonexistent/marker"));
        let joined = process_with(args.clone()).cmdline_string();
        assert_eq!(shell_words::split(&joined).ok(), Some(args), "{joined}");
    }

    #[test]
    fn a_pasted_command_line_prints_its_arguments_and_runs_none_of_them() {
        let dir = std::env::temp_dir().join(format!("portscope-quote-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("ran");
        let args = nasty_args(&marker);
        let joined = process_with(args.clone()).cmdline_string();
        // POSIX sh, and bash where installed (it expands braces too).
        for shell in ["sh", "bash"] {
            // Run in the empty directory, so that whatever a broken quoting runs lands there.
            let Ok(out) = std::process::Command::new(shell)
                .current_dir(&dir)
                .arg("-c")
                .arg(format!("printf '%s\\0' {joined}"))
                .output()
            else {
                assert_ne!(shell, "sh", "sh must be there");
                continue;
            };
            assert!(out.status.success(), "{shell}: {out:?}");
            let printed: Vec<String> = out
                .stdout
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            // printf ends every argument with a NUL, so the last piece is empty.
            assert_eq!(printed[..printed.len() - 1], args[..], "{shell}: {joined}");
            let created: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
            assert!(created.is_empty(), "{shell} ran an argument: {created:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
