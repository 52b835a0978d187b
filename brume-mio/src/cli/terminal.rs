//! Text a peer supplies (chat lines, names, reasons, file names) made safe
//! to print: a control character could set the terminal's title, move the
//! cursor or overwrite lines, and a bidi control could disguise a name.
//! Everything the command prints from a peer goes through [`peer_text`].

use std::fmt::Write;

/// `text` with every control character written as a visible escape:
/// C0 (`\x1b`, `\r`, `\t`…), DEL, C1 (`\u{9b}`…) and the bidi format
/// controls (`\u{202e}`…). Everything else is kept as it is.
pub fn peer_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !is_unsafe(c) {
            out.push(c);
        } else if c.is_ascii() {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\x{:02x}", c as u32);
        } else {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    out
}

/// C0, DEL, C1, and the format controls that reorder or hide text.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'              // Arabic letter mark
            | '\u{200e}' | '\u{200f}' // left-to-right and right-to-left marks
            | '\u{202a}'..='\u{202e}' // embeddings and overrides
            | '\u{2066}'..='\u{2069}' // isolates
        )
}

#[cfg(test)]
mod tests {
    use super::peer_text;

    #[test]
    fn plain_text_is_kept() {
        assert_eq!(peer_text("hello, wörld 🙂 日本"), "hello, wörld 🙂 日本");
    }

    #[test]
    fn terminal_sequences_become_visible() {
        assert_eq!(
            peer_text("\x1b]0;pwned\x07hi\rX"),
            "\\x1b]0;pwned\\x07hi\\x0dX"
        );
        assert_eq!(peer_text("a\tb\nc\0"), "a\\x09b\\x0ac\\x00");
        assert_eq!(peer_text("del\x7f"), "del\\x7f");
    }

    #[test]
    fn c1_and_bidi_controls_become_visible() {
        assert_eq!(peer_text("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(peer_text("photo\u{202e}gpj.exe"), "photo\\u{202e}gpj.exe");
        for c in [
            '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{2066}', '\u{2069}',
        ] {
            assert!(peer_text(&c.to_string()).starts_with("\\u{"), "{c:?}");
        }
        // Joiners are not controls of this kind: emoji need them.
        assert_eq!(peer_text("👩\u{200d}💻"), "👩\u{200d}💻");
    }
}
