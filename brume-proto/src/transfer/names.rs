//! Safe names for received files: what a peer may call a file or a folder.
//!
//! A peer chooses the names of the files it sends, so every name is hostile
//! until checked. One policy (docs/PROTOCOL.md, "Names"):
//!
//! - Refused everywhere, by sender and receiver alike ([`check_component`]):
//!   empty names, `.` and `..`, `/`, NUL, names over 255 bytes, control
//!   characters, and invisible format characters that disguise a name
//!   (bidi overrides and isolates, zero-width characters, soft hyphens…).
//! - Everything else is stored as the receiving platform can store it
//!   ([`store_component`]; the receiver decides by its [`NamePolicy`]): on
//!   Unix as it is (`:`, `*`, `?`, `\` included); on Windows the characters
//!   it forbids are mapped to their full-width forms (`:` → `：`), and
//!   device names and names ending in a dot or a space are refused.

/// Longest file or folder name, in bytes (the usual file system limit).
pub const MAX_COMPONENT_LEN: usize = 255;

/// Most components a received relative path may have.
pub const MAX_DEPTH: usize = 32;

/// Longest tag [`temp_name`] puts in a temporary file name, in hex digits.
pub const MAX_TAG_LEN: usize = 16;

/// How many characters of an offending name an error quotes.
const EXCERPT_CHARS: usize = 64;

/// What [`temp_name`] appends, so partial files are easy to recognise.
const TEMP_SUFFIX: &str = ".brume-part";

/// The longest suffix [`conflict_name`] adds, for `n = u32::MAX`.
const LONGEST_CONFLICT_SUFFIX: usize = " (4294967295)".len();

/// Why a name or a path from a peer is refused.
///
/// Each variant quotes the offending name (or path), cut to its first 64
/// characters so that a hostile name cannot flood a log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnsafeName {
    /// The name, or a component of a path (as in `a//b`), is empty.
    #[error("empty name")]
    Empty,
    /// The name is longer than [`MAX_COMPONENT_LEN`] bytes.
    #[error("name {name:?} is {len} bytes long, more than {MAX_COMPONENT_LEN}")]
    TooLong {
        /// The start of the name.
        name: String,
        /// Its whole length, in bytes.
        len: usize,
    },
    /// The name is `.` or `..`, the current or the parent folder.
    #[error("name {0:?} means the current or the parent folder")]
    DotName(String),
    /// The name contains `/`, so it would name a file in another folder.
    #[error("name {name:?} contains the path separator {separator:?}")]
    Separator {
        /// The start of the name.
        name: String,
        /// The separator found.
        separator: char,
    },
    /// The name contains a NUL, which ends a name early in C APIs.
    #[error("name {0:?} contains a NUL character")]
    Nul(String),
    /// The name contains a control character (C0, DEL or C1).
    #[error("name {name:?} contains the control character {ch:?}")]
    ControlChar {
        /// The start of the name.
        name: String,
        /// The control character found.
        ch: char,
    },
    /// The name is a Windows device (`CON`, `NUL`, `COM1`…), even with an extension.
    #[error("name {0:?} is a reserved device name on Windows")]
    Reserved(String),
    /// The name ends with a dot or a space, which Windows strips, so that
    /// `a.` and `a` would be the same file.
    #[error("name {0:?} ends with a dot or a space, which Windows strips")]
    TrailingDotOrSpace(String),
    /// The path starts with `/`.
    #[error("path {0:?} is absolute")]
    Absolute(String),
    /// The path has more than [`MAX_DEPTH`] components.
    #[error("path {0:?} has more than {MAX_DEPTH} components")]
    TooDeep(String),
    /// The name contains an invisible format character that could make it
    /// look like another name (a bidi override shows `exe.txt` as `txt.exe`).
    #[error("name {name:?} contains the invisible character {ch:?}, which can disguise a name")]
    Disguised {
        /// The start of the name.
        name: String,
        /// The character found.
        ch: char,
    },
}

/// Which platform's rules a receiver stores names by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NamePolicy {
    /// Linux, macOS, BSD: every name that passes [`check_component`].
    #[default]
    Unix,
    /// Windows: `<>:"\|?*` mapped to full-width forms; device names and
    /// trailing dots or spaces refused.
    Windows,
}

impl NamePolicy {
    /// The platform this was built for.
    pub fn native() -> Self {
        if cfg!(windows) {
            NamePolicy::Windows
        } else {
            NamePolicy::Unix
        }
    }
}

/// Invisible format characters (Unicode category Cf), as inclusive ranges.
/// Zero-width joiners between visible characters (emoji sequences, Indic
/// and Persian words) and the tag characters of a flag are allowed; see
/// [`disguising`].
const FORMAT_CHARS: &[(char, char)] = &[
    ('\u{ad}', '\u{ad}'),
    ('\u{600}', '\u{605}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{6dd}', '\u{6dd}'),
    ('\u{70f}', '\u{70f}'),
    ('\u{890}', '\u{891}'),
    ('\u{8e2}', '\u{8e2}'),
    ('\u{180e}', '\u{180e}'),
    ('\u{200b}', '\u{200f}'),
    ('\u{202a}', '\u{202e}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{fff9}', '\u{fffb}'),
    ('\u{110bd}', '\u{110bd}'),
    ('\u{110cd}', '\u{110cd}'),
    ('\u{13430}', '\u{1343f}'),
    ('\u{1bca0}', '\u{1bca3}'),
    ('\u{1d173}', '\u{1d17a}'),
    ('\u{e0001}', '\u{e0001}'),
    ('\u{e0020}', '\u{e007f}'),
];

const TAGS: std::ops::RangeInclusive<char> = '\u{e0020}'..='\u{e007f}';

fn is_format(c: char) -> bool {
    FORMAT_CHARS.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

/// The first character of `name` that can disguise it: any format
/// character, except a zero-width (non-)joiner between two visible
/// characters, and the tag characters that follow a black flag (U+1F3F4) in
/// a subdivision flag.
fn disguising(name: &str) -> Option<char> {
    if name.is_ascii() {
        return None; // no format character is ASCII
    }
    let chars: Vec<char> = name.chars().collect();
    let visible = |c: Option<&char>| c.is_some_and(|c| !is_format(*c) && !c.is_whitespace());
    for (i, &c) in chars.iter().enumerate() {
        if !is_format(c) {
            continue;
        }
        let joins = matches!(c, '\u{200c}' | '\u{200d}')
            && i > 0
            && visible(chars.get(i - 1))
            && visible(chars.get(i + 1));
        let flag = TAGS.contains(&c)
            && chars[..i].iter().rev().find(|p| !TAGS.contains(*p)) == Some(&'\u{1f3f4}');
        if !(joins || flag) {
            return Some(c);
        }
    }
    None
}

/// What Windows cannot store in a name, and the full-width form stored instead.
const WINDOWS_MAP: [(char, char); 8] = [
    ('<', '＜'),
    ('>', '＞'),
    (':', '：'),
    ('"', '＂'),
    ('\\', '＼'),
    ('|', '｜'),
    ('?', '？'),
    ('*', '＊'),
];

/// The name under which a receiver following `policy` stores `name`, or
/// why it cannot: [`check_component`], then the platform's own rules.
pub fn store_component(name: &str, policy: NamePolicy) -> Result<String, UnsafeName> {
    check_component(name)?;
    match policy {
        NamePolicy::Unix => Ok(name.to_owned()),
        NamePolicy::Windows => {
            if is_reserved(name) {
                return Err(UnsafeName::Reserved(excerpt(name)));
            }
            if name.ends_with(['.', ' ']) {
                return Err(UnsafeName::TrailingDotOrSpace(excerpt(name)));
            }
            let mapped: String = name
                .chars()
                .map(|c| {
                    WINDOWS_MAP
                        .iter()
                        .find(|(from, _)| *from == c)
                        .map_or(c, |(_, to)| *to)
                })
                .collect();
            if mapped.len() > MAX_COMPONENT_LEN {
                return Err(UnsafeName::TooLong {
                    name: excerpt(name),
                    len: mapped.len(),
                });
            }
            Ok(mapped)
        }
    }
}

/// The components under which a receiver following `policy` stores the
/// `/`-separated relative `path` (see [`check_relative_path`]).
pub fn store_path(path: &str, policy: NamePolicy) -> Result<Vec<String>, UnsafeName> {
    check_relative_path(path)?
        .iter()
        .map(|c| store_component(c, policy))
        .collect()
}

/// The start of `s` that an error quotes.
fn excerpt(s: &str) -> String {
    s.chars().take(EXCERPT_CHARS).collect()
}

/// The longest start of `s` that is at most `max` bytes and ends on a char boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` without its last character.
fn drop_last_char(s: &str) -> &str {
    let end = s.char_indices().next_back().map_or(0, |(i, _)| i);
    &s[..end]
}

/// Windows reserves device names whatever the extension and the case, and
/// ignores spaces before the extension: `con`, `CON.txt` and `Con .tar.gz`
/// all open the console.
fn is_reserved(name: &str) -> bool {
    let base = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    // CONIN$ and CONOUT$ are the console's input and output on current Windows.
    let plain = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];
    if plain.iter().any(|device| base.eq_ignore_ascii_case(device)) {
        return true;
    }
    let (Some(prefix), Some(number)) = (base.get(..3), base.get(3..)) else {
        return false;
    };
    let port = prefix.eq_ignore_ascii_case("COM") || prefix.eq_ignore_ascii_case("LPT");
    // Windows also reads the superscript digits ¹ ² ³ as port numbers.
    let digit = matches!(number.as_bytes(), [b'0'..=b'9']) || matches!(number, "¹" | "²" | "³");
    port && digit
}

/// Checks one file or folder name from a peer against the rules that hold
/// on every platform (see the module documentation).
pub fn check_component(name: &str) -> Result<(), UnsafeName> {
    if name.is_empty() {
        return Err(UnsafeName::Empty);
    }
    if name.len() > MAX_COMPONENT_LEN {
        return Err(UnsafeName::TooLong {
            name: excerpt(name),
            len: name.len(),
        });
    }
    if name == "." || name == ".." {
        return Err(UnsafeName::DotName(name.to_owned()));
    }
    for c in name.chars() {
        match c {
            '\0' => return Err(UnsafeName::Nul(excerpt(name))),
            c if c.is_control() => {
                return Err(UnsafeName::ControlChar {
                    name: excerpt(name),
                    ch: c,
                });
            }
            '/' => {
                return Err(UnsafeName::Separator {
                    name: excerpt(name),
                    separator: c,
                });
            }
            _ => {}
        }
    }
    if let Some(ch) = disguising(name) {
        return Err(UnsafeName::Disguised {
            name: excerpt(name),
            ch,
        });
    }
    Ok(())
}

/// A path is absolute if it starts at the root. (`\` and `C:` begin
/// ordinary names on Unix; on Windows they are stored in full-width forms,
/// so they can reach neither a root nor a drive there.)
fn is_absolute(path: &str) -> bool {
    path.starts_with('/')
}

/// Checks a `/`-separated relative path from a peer, such as
/// `photos/2024/a.jpg`, and returns its components.
///
/// Every component must pass [`check_component`], so empty components
/// (`a//b`, `a/`), `.` and `..` are refused; `\` is never a separator.
pub fn check_relative_path(path: &str) -> Result<Vec<String>, UnsafeName> {
    if is_absolute(path) {
        return Err(UnsafeName::Absolute(excerpt(path)));
    }
    let mut components = Vec::new();
    for component in path.split('/') {
        // Stop before checking (or keeping) more than a hostile path deserves.
        if components.len() == MAX_DEPTH {
            return Err(UnsafeName::TooDeep(excerpt(path)));
        }
        check_component(component)?;
        components.push(component.to_owned());
    }
    Ok(components)
}

/// Splits `name` into its stem and its extension (with the dot): the
/// extension starts at the last dot, unless that dot starts the name
/// (`.bashrc` has none) or the extension is so long that no suffix would fit
/// beside it.
///
/// The last rule does not depend on `n`, so every `conflict_name(name, n)`
/// splits `name` the same way, which keeps them distinct.
fn split_extension(name: &str) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot) if dot > 0 && name.len() - dot + LONGEST_CONFLICT_SUFFIX < MAX_COMPONENT_LEN => {
            name.split_at(dot)
        }
        _ => (name, ""),
    }
}

/// The `n`-th other name for a file whose name is taken, as desktop systems
/// do: `report.pdf` becomes `report (1).pdf`, `README` becomes `README (1)`.
///
/// The extension is what follows the last dot (`archive.tar.gz` becomes
/// `archive.tar (2).gz`), and a name whose only dot starts it gets the suffix
/// at the end (`.bashrc (1)`). `n = 0` returns the name unchanged. The stem
/// is shortened, on a char boundary, so the result fits in
/// [`MAX_COMPONENT_LEN`] bytes. If `name` passes [`check_component`], so does
/// the result, which differs from `name` and from the names for other `n`.
pub fn conflict_name(name: &str, n: u32) -> String {
    if n == 0 {
        return name.to_owned();
    }
    let suffix = format!(" ({n})");
    let (stem, extension) = split_extension(name);
    let budget = MAX_COMPONENT_LEN.saturating_sub(suffix.len() + extension.len());
    let kept = cut(stem, budget);
    let renamed = format!("{kept}{suffix}{extension}");
    if renamed != name {
        return renamed;
    }
    // A long name that already ends in the suffix (`…x (1)`) comes back
    // unchanged once shortened; one character less makes it differ.
    format!("{}{suffix}{extension}", drop_last_char(kept))
}

/// The hidden name a file is received under until it is complete:
/// `.{name}.{tag}.brume-part`, with `name` shortened on a char boundary so
/// the result fits in [`MAX_COMPONENT_LEN`] bytes.
///
/// `tag` is a short hex string chosen by the caller (such as a transfer id)
/// so that two transfers of the same name do not share a temporary file. It
/// should be at most [`MAX_TAG_LEN`] hex digits: other characters are
/// dropped and the rest cut to [`MAX_TAG_LEN`], so the result is safe
/// whatever the tag. If `name` passes [`check_component`],
/// so does the result.
pub fn temp_name(name: &str, tag: &str) -> String {
    // The tag may come from a peer's manifest: sanitise it, never panic.
    let tag: String = tag
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(MAX_TAG_LEN)
        .collect();
    let fixed = ".".len() + ".".len() + tag.len() + TEMP_SUFFIX.len();
    let name = cut(name, MAX_COMPONENT_LEN - fixed);
    format!(".{name}.{tag}{TEMP_SUFFIX}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn refused(name: &str) -> UnsafeName {
        check_component(name).expect_err(name)
    }

    fn on_windows(name: &str) -> Result<String, UnsafeName> {
        store_component(name, NamePolicy::Windows)
    }

    #[test]
    fn ordinary_names_are_accepted() {
        for ok in [
            "a",
            "report.pdf",
            "résumé.pdf",
            "日本語.txt",
            "my holiday photo.jpg",
            " leading space",
            ".hidden",
            "..hidden",
            "...x",
            "a.b.c",
            "CONSOLE.txt",
            "COM10",
            "LPT",
            "nul_",
            "x con.txt",
            "COM⁴",
            "meeting 12:30.txt",
            "what?",
            "*.txt",
            "a\\b",
            "CON",
            "trailing.",
            "trailing ",
            "<tag> | \"quoted\"",
            "👨‍👩‍👧 family.jpg",
            "می‌خواهم.txt",
            "🏴󠁧󠁢󠁳󠁣󠁴󠁿 flag.png",
            &"a".repeat(MAX_COMPONENT_LEN),
            &"é".repeat(MAX_COMPONENT_LEN / 2),
        ] {
            assert_eq!(check_component(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn empty_names_are_refused() {
        assert_eq!(refused(""), UnsafeName::Empty);
    }

    #[test]
    fn long_names_are_refused_and_quoted_short() {
        let long = "a".repeat(MAX_COMPONENT_LEN + 1);
        let err = refused(&long);
        assert_eq!(
            err,
            UnsafeName::TooLong {
                name: "a".repeat(64),
                len: 256
            }
        );
        let message = err.to_string();
        assert!(
            message.contains(&format!("{:?}", "a".repeat(64))),
            "{message}"
        );
        assert!(message.contains("256"), "{message}");
        // The limit is in bytes, not characters.
        assert!(matches!(
            refused(&"é".repeat(128)),
            UnsafeName::TooLong { len: 256, .. }
        ));
    }

    #[test]
    fn dot_names_are_refused() {
        assert_eq!(refused("."), UnsafeName::DotName(".".into()));
        assert_eq!(refused(".."), UnsafeName::DotName("..".into()));
    }

    #[test]
    fn separators_are_refused() {
        assert_eq!(
            refused("a/b"),
            UnsafeName::Separator {
                name: "a/b".into(),
                separator: '/'
            }
        );
        assert!(matches!(refused("/x"), UnsafeName::Separator { .. }));
        // A backslash is an ordinary character on Unix, a full-width one on Windows.
        assert_eq!(check_component("a\\b"), Ok(()));
        assert_eq!(on_windows("a\\b"), Ok("a＼b".into()));
    }

    #[test]
    fn nul_is_refused() {
        assert_eq!(refused("\0"), UnsafeName::Nul("\0".into()));
        assert_eq!(refused("a\0.txt"), UnsafeName::Nul("a\0.txt".into()));
    }

    #[test]
    fn control_characters_are_refused() {
        for c in [
            '\u{1}', '\t', '\n', '\r', '\u{1b}', '\u{1f}', '\u{7f}', '\u{85}', '\u{9f}',
        ] {
            let name = format!("a{c}b");
            assert_eq!(
                refused(&name),
                UnsafeName::ControlChar {
                    name: name.clone(),
                    ch: c
                }
            );
        }
        let message = refused("a\u{1b}[31m").to_string();
        assert!(message.contains("\\u{1b}"), "{message}");
    }

    #[test]
    fn windows_devices_are_refused() {
        for bad in [
            "con",
            "CON",
            "Con",
            "prn",
            "AUX",
            "nul",
            "NUL",
            "CON.txt",
            "con.txt",
            "Nul.tar.gz",
            "lpt1.log",
            "LPT0",
            "lpt9",
            "COM1",
            "com5.txt",
            "com¹",
            "COM²",
            "lpt³.x",
            "CON .txt",
            "con  .a.b",
            "CONIN$",
            "conout$.log",
        ] {
            assert_eq!(
                on_windows(bad),
                Err(UnsafeName::Reserved(bad.into())),
                "{bad:?}"
            );
            // Unix can store it.
            assert_eq!(
                store_component(bad, NamePolicy::Unix),
                Ok(bad.into()),
                "{bad:?}"
            );
        }
        // Trailing spaces or dots make it no less a device.
        assert_eq!(on_windows("CON "), Err(UnsafeName::Reserved("CON ".into())));
        assert_eq!(on_windows("aux."), Err(UnsafeName::Reserved("aux.".into())));
    }

    #[test]
    fn trailing_dots_and_spaces_are_refused() {
        for bad in ["name.", "name ", "a..", "...", ". ", "a. "] {
            assert_eq!(
                on_windows(bad),
                Err(UnsafeName::TrailingDotOrSpace(bad.into())),
                "{bad:?}"
            );
            if bad != "..." {
                assert_eq!(check_component(bad), Ok(()), "{bad:?}");
            }
        }
    }

    #[test]
    fn what_windows_forbids_is_stored_full_width_there_and_as_is_on_unix() {
        for (name, windows) in [
            ("meeting 12:30.txt", "meeting 12：30.txt"),
            ("C:evil", "C：evil"),
            ("notes.txt:hidden", "notes.txt：hidden"),
            ("a<b>c", "a＜b＞c"),
            ("say \"hi\"", "say ＂hi＂"),
            ("a|b?*", "a｜b？＊"),
        ] {
            assert_eq!(store_component(name, NamePolicy::Unix), Ok(name.into()));
            assert_eq!(on_windows(name), Ok(windows.into()), "{name:?}");
        }
        // Mapped names still fit: full-width forms are three bytes.
        let long = ":".repeat(100);
        assert!(matches!(
            on_windows(&long),
            Err(UnsafeName::TooLong { len: 300, .. })
        ));
    }

    #[test]
    fn format_characters_that_disguise_a_name_are_refused_everywhere() {
        for (name, ch) in [
            ("invoice\u{202e}fdp.exe", '\u{202e}'),
            ("\u{202a}a", '\u{202a}'),
            ("a\u{202d}b", '\u{202d}'),
            ("a\u{2066}b\u{2069}", '\u{2066}'),
            ("a\u{2069}", '\u{2069}'),
            ("pay\u{200b}pal", '\u{200b}'),
            ("a\u{200e}", '\u{200e}'),
            ("a\u{feff}", '\u{feff}'),
            ("soft\u{ad}hyphen", '\u{ad}'),
            ("\u{200d}start", '\u{200d}'),
            ("end\u{200c}", '\u{200c}'),
            ("a \u{200d}b", '\u{200d}'),
            ("tag\u{e0041}", '\u{e0041}'),
        ] {
            assert_eq!(
                refused(name),
                UnsafeName::Disguised {
                    name: name.into(),
                    ch
                },
                "{name:?}"
            );
            assert!(store_component(name, NamePolicy::Unix).is_err());
            assert!(on_windows(name).is_err());
        }
        let message = refused("x\u{202e}y").to_string();
        assert!(
            message.contains("\\u{202e}") && message.contains("disguise"),
            "{message}"
        );
    }

    #[test]
    fn errors_name_the_problem_and_quote_the_name() {
        let message = on_windows("lpt1.log").unwrap_err().to_string();
        assert!(message.contains("\"lpt1.log\""), "{message}");
        assert!(message.contains("reserved"), "{message}");
        let long = format!("{}\u{1}", "x".repeat(100));
        let message = refused(&long).to_string();
        assert!(
            message.contains(&format!("\"{}\"", "x".repeat(64))),
            "{message}"
        );
    }

    #[test]
    fn relative_paths_give_their_components() {
        assert_eq!(
            check_relative_path("photos/2024/a.jpg"),
            Ok(vec!["photos".into(), "2024".into(), "a.jpg".into()])
        );
        assert_eq!(check_relative_path("a.txt"), Ok(vec!["a.txt".into()]));
        assert_eq!(
            check_relative_path(".config/日本/x y"),
            Ok(vec![".config".into(), "日本".into(), "x y".into()])
        );
        let deepest = vec!["d"; MAX_DEPTH].join("/");
        assert_eq!(
            check_relative_path(&deepest).map(|c| c.len()),
            Ok(MAX_DEPTH)
        );
    }

    #[test]
    fn absolute_paths_are_refused() {
        for bad in ["/etc/passwd", "/", "//server/share"] {
            assert_eq!(
                check_relative_path(bad),
                Err(UnsafeName::Absolute(bad.into())),
                "{bad:?}"
            );
        }
        // Stored on Windows, drive letters and backslashes are full-width:
        // they reach neither a drive nor a root.
        assert_eq!(
            store_path("C:evil", NamePolicy::Windows),
            Ok(vec!["C：evil".into()])
        );
        assert_eq!(
            store_path("\\\\server\\share", NamePolicy::Windows),
            Ok(vec!["＼＼server＼share".into()])
        );
    }

    #[test]
    fn escaping_paths_are_refused() {
        assert_eq!(
            check_relative_path("../x"),
            Err(UnsafeName::DotName("..".into()))
        );
        assert_eq!(
            check_relative_path("a/../b"),
            Err(UnsafeName::DotName("..".into()))
        );
        assert_eq!(
            check_relative_path("a/./b"),
            Err(UnsafeName::DotName(".".into()))
        );
        assert_eq!(
            check_relative_path("a/.."),
            Err(UnsafeName::DotName("..".into()))
        );
    }

    #[test]
    fn empty_components_are_refused() {
        for bad in ["", "a//b", "a/", "a/b/"] {
            assert_eq!(check_relative_path(bad), Err(UnsafeName::Empty), "{bad:?}");
        }
    }

    #[test]
    fn backslash_is_not_a_separator() {
        assert_eq!(
            check_relative_path("a\\..\\..\\etc"),
            Ok(vec!["a\\..\\..\\etc".into()])
        );
        assert_eq!(
            store_path("a\\..\\..\\etc", NamePolicy::Windows),
            Ok(vec!["a＼..＼..＼etc".into()])
        );
    }

    #[test]
    fn components_are_checked() {
        assert_eq!(
            store_path("docs/con.txt", NamePolicy::Windows),
            Err(UnsafeName::Reserved("con.txt".into()))
        );
        assert_eq!(
            check_relative_path("docs/a\u{202e}txt"),
            Err(UnsafeName::Disguised {
                name: "a\u{202e}txt".into(),
                ch: '\u{202e}'
            })
        );
    }

    #[test]
    fn deep_paths_are_refused() {
        let too_deep = vec!["d"; MAX_DEPTH + 1].join("/");
        assert_eq!(
            check_relative_path(&too_deep),
            Err(UnsafeName::TooDeep(too_deep.chars().take(64).collect()))
        );
    }

    #[test]
    fn conflict_names_go_before_the_last_extension() {
        assert_eq!(conflict_name("report.pdf", 1), "report (1).pdf");
        assert_eq!(conflict_name("archive.tar.gz", 2), "archive.tar (2).gz");
        assert_eq!(conflict_name("README", 1), "README (1)");
        assert_eq!(conflict_name(".bashrc", 1), ".bashrc (1)");
        assert_eq!(conflict_name("résumé.pdf", 12), "résumé (12).pdf");
        assert_eq!(conflict_name("a.b", u32::MAX), "a (4294967295).b");
        assert_eq!(conflict_name("report.pdf", 0), "report.pdf");
    }

    #[test]
    fn conflict_names_fit() {
        let long = format!("{}.pdf", "a".repeat(MAX_COMPONENT_LEN - 4));
        let renamed = conflict_name(&long, 7);
        assert_eq!(renamed.len(), MAX_COMPONENT_LEN);
        assert!(renamed.ends_with("a (7).pdf"), "{renamed}");

        // Cut on a char boundary: "é" is two bytes.
        let wide = "é".repeat(MAX_COMPONENT_LEN / 2);
        let renamed = conflict_name(&wide, 1);
        assert_eq!(renamed, format!("{} (1)", "é".repeat(125)));
        assert_eq!(check_component(&renamed), Ok(()));
    }

    #[test]
    fn conflict_names_of_long_names_with_the_suffix_still_differ() {
        let name = format!("{} (1)", "a".repeat(MAX_COMPONENT_LEN - 4));
        let renamed = conflict_name(&name, 1);
        assert_ne!(renamed, name);
        assert_eq!(check_component(&renamed), Ok(()));
    }

    #[test]
    fn conflict_names_with_huge_extensions_keep_the_suffix_at_the_end() {
        let name = format!("a.{}", "x".repeat(MAX_COMPONENT_LEN - 2));
        let renamed = conflict_name(&name, 3);
        assert!(renamed.ends_with(" (3)"), "{renamed}");
        assert_eq!(renamed.len(), MAX_COMPONENT_LEN);
    }

    #[test]
    fn temp_names_are_hidden_and_fit() {
        assert_eq!(temp_name("a.jpg", "00ff"), ".a.jpg.00ff.brume-part");
        let long = "日".repeat(MAX_COMPONENT_LEN / 3);
        let temp = temp_name(&long, "0123456789abcdef");
        assert!(temp.len() <= MAX_COMPONENT_LEN, "{}", temp.len());
        assert!(temp.starts_with(".日"), "{temp}");
        assert!(temp.ends_with("日.0123456789abcdef.brume-part"), "{temp}");
        assert_eq!(check_component(&temp), Ok(()));
    }

    #[test]
    fn temp_name_tags_are_sanitised() {
        assert_eq!(
            temp_name("a", "../x/0123456789abcdef99"),
            ".a.0123456789abcdef.brume-part"
        );
    }

    /// Characters that make names interesting: separators, dots, spaces,
    /// colons, controls, device-name letters and multi-byte characters.
    fn tricky_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => prop::sample::select(vec![
                'a', 'c', 'o', 'n', 'C', 'O', 'N', 'l', 'p', 't', '1', '¹', ' ', '(', ')',
            ]),
            3 => prop::sample::select(vec!['.', '.', ' ', '/', '\\', ':', '\0', '\u{1}', '\u{7f}']),
            1 => prop::sample::select(vec!['é', '日', '😀']),
            1 => any::<char>(),
        ]
    }

    fn tricky_string(max_chars: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(tricky_char(), 0..max_chars).prop_map(String::from_iter)
    }

    /// Mostly names that pass, including ones close to the length limit.
    fn good_name() -> impl Strategy<Value = String> {
        let filler = prop::sample::select(vec!['a', 'é', '日', '.', ' ', '(', ')', '1']);
        let long =
            (prop::collection::vec(filler, 180..260), "[a-z]{1,3}").prop_map(|(chars, end)| {
                format!(
                    "{}{end}",
                    cut(&String::from_iter(chars), MAX_COMPONENT_LEN - 3)
                )
            });
        prop_oneof![tricky_string(12), long]
            .prop_filter("must pass check_component", |n| check_component(n).is_ok())
    }

    proptest! {
        #[test]
        fn accepted_names_have_no_dangerous_characters(
            name in prop_oneof![tricky_string(12), any::<String>()]
        ) {
            if let Ok(stored) = store_component(&name, NamePolicy::Windows) {
                prop_assert!(!stored.contains(['<', '>', ':', '"', '\\', '|', '?', '*']), "{:?}", stored);
                prop_assert!(!stored.ends_with(['.', ' ']) && !is_reserved(&stored));
                prop_assert!(stored.len() <= MAX_COMPONENT_LEN);
            }
            if check_component(&name).is_ok() {
                prop_assert!(!name.contains(['/', '\0']), "{:?}", name);
                prop_assert!(name != "." && name != "..");
                prop_assert!(!name.is_empty() && name.len() <= MAX_COMPONENT_LEN);
            }
        }

        #[test]
        fn conflict_names_are_safe_new_and_distinct(
            name in good_name(), n in 1u32..1000, m in 1u32..1000
        ) {
            let renamed = conflict_name(&name, n);
            prop_assert_eq!(check_component(&renamed), Ok(()), "{:?} -> {:?}", name, renamed);
            prop_assert_ne!(&renamed, &name);
            if n != m {
                prop_assert_ne!(renamed, conflict_name(&name, m));
            }
        }

        #[test]
        fn temp_names_of_safe_names_are_safe(name in good_name(), tag in "[0-9a-f]{0,16}") {
            let temp = temp_name(&name, &tag);
            prop_assert_eq!(check_component(&temp), Ok(()), "{:?}", temp);
        }

        #[test]
        fn relative_paths_are_checked_component_by_component(
            path in prop_oneof![tricky_string(40), any::<String>()]
        ) {
            if let Ok(components) = check_relative_path(&path) {
                prop_assert!(components.len() <= MAX_DEPTH);
                prop_assert_eq!(components.join("/"), path);
                for component in &components {
                    prop_assert_eq!(check_component(component), Ok(()));
                }
            }
        }
    }
}
