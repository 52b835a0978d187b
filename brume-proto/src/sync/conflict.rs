//! Conflict names: where a member's own version is kept before the owner's
//! replaces it (docs/PROTOCOL.md, "Sync: conflict names").
//!
//! `notes.txt` becomes `notes-conflict-sync.txt`; a second conflict of the
//! same kind in the same folder `notes-conflict-sync-2.txt`, then `-3`…
//! The suffix goes before the last extension, as the transfer's own
//! conflict names do; a folder, or a name whose only dot starts it
//! (`.bashrc`), gets it at the end.

use crate::transfer::names::MAX_COMPONENT_LEN;

/// Which of seed 001's cases made the conflict.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictKind {
    /// The member changed (added, edited) a path the owner did not change
    /// since the last sync: `-conflict-sync`.
    Sync,
    /// The owner added a path where the member has something else:
    /// `-conflict-update-add`.
    UpdateAdd,
    /// The owner changed or deleted a path the member changed too:
    /// `-conflict-update-change`.
    UpdateChange,
}

impl ConflictKind {
    /// Every kind, for recognising names.
    pub const ALL: [ConflictKind; 3] = [Self::Sync, Self::UpdateAdd, Self::UpdateChange];

    /// The suffix this kind adds (before any number and extension).
    pub fn suffix(self) -> &'static str {
        match self {
            Self::Sync => "-conflict-sync",
            Self::UpdateAdd => "-conflict-update-add",
            Self::UpdateChange => "-conflict-update-change",
        }
    }
}

/// The longest suffix [`conflict_name`] adds: the longest kind and `-` with
/// ten digits.
const LONGEST_SUFFIX: usize = "-conflict-update-change-4294967295".len();

/// Splits a file name into stem and extension (with its dot); folders have
/// no extension. The split does not depend on `n`, so names for different
/// `n` stay distinct.
fn split_extension(name: &str, is_dir: bool) -> (&str, &str) {
    match name.rfind('.') {
        Some(dot)
            if !is_dir && dot > 0 && name.len() - dot + LONGEST_SUFFIX < MAX_COMPONENT_LEN =>
        {
            name.split_at(dot)
        }
        _ => (name, ""),
    }
}

/// The `n`-th conflict name (`n` from 1) of kind `kind` for `name`:
/// `stem-conflict-KIND.ext` for `n = 1`, `stem-conflict-KIND-N.ext` after.
/// The stem is shortened on a char boundary so the result fits in 255
/// bytes.
pub fn conflict_name(name: &str, is_dir: bool, kind: ConflictKind, n: u32) -> String {
    let number = if n <= 1 {
        String::new()
    } else {
        format!("-{n}")
    };
    let (stem, extension) = split_extension(name, is_dir);
    let suffix = format!("{}{number}", kind.suffix());
    let budget = MAX_COMPONENT_LEN.saturating_sub(suffix.len() + extension.len());
    let mut end = budget.min(stem.len());
    while !stem.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}{extension}", &stem[..end])
}

/// Whether `name` is a conflict name that [`conflict_name`] could have
/// made: the member's kept copies, which the planner leaves alone.
pub fn is_conflict_name(name: &str) -> bool {
    let (stem, _) = split_extension(name, false);
    has_conflict_suffix(stem) || has_conflict_suffix(name)
}

fn has_conflict_suffix(stem: &str) -> bool {
    // An optional `-N` (N ≥ 2, no leading zero) after the kind's suffix.
    let unnumbered = match stem.rsplit_once('-') {
        Some((head, digits))
            if !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && !digits.starts_with('0')
                && digits != "1" =>
        {
            head
        }
        _ => stem,
    };
    [stem, unnumbered].iter().any(|s| {
        ConflictKind::ALL
            .iter()
            .any(|k| s.len() > k.suffix().len() && s.ends_with(k.suffix()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::names::check_component;

    #[test]
    fn the_suffix_goes_before_the_last_extension() {
        use ConflictKind::*;
        assert_eq!(
            conflict_name("notes.txt", false, Sync, 1),
            "notes-conflict-sync.txt"
        );
        assert_eq!(
            conflict_name("notes.txt", false, Sync, 2),
            "notes-conflict-sync-2.txt"
        );
        assert_eq!(
            conflict_name("a.tar.gz", false, UpdateAdd, 1),
            "a.tar-conflict-update-add.gz"
        );
        assert_eq!(
            conflict_name("README", false, UpdateChange, 3),
            "README-conflict-update-change-3"
        );
        assert_eq!(
            conflict_name(".bashrc", false, Sync, 1),
            ".bashrc-conflict-sync"
        );
        assert_eq!(conflict_name("v1.0", true, Sync, 1), "v1.0-conflict-sync");
    }

    #[test]
    fn conflict_names_are_recognised() {
        for kind in ConflictKind::ALL {
            for n in [1, 2, 17] {
                for (name, dir) in [
                    ("notes.txt", false),
                    ("README", false),
                    ("v1.0", true),
                    (".x", false),
                ] {
                    let c = conflict_name(name, dir, kind, n);
                    assert!(is_conflict_name(&c), "{c}");
                    check_component(&c).unwrap();
                }
            }
        }
        for plain in [
            "notes.txt",
            "conflict-sync",
            "-conflict-sync",
            "a-conflict-syncx",
            "a-conflict-sync-01",
            "a-conflict-sync-1",
        ] {
            assert!(!is_conflict_name(plain), "{plain}");
        }
    }

    #[test]
    fn long_names_still_fit() {
        let long = "é".repeat(127) + ".txt";
        let c = conflict_name(&long, false, ConflictKind::UpdateChange, 4_000_000_000);
        assert!(c.len() <= MAX_COMPONENT_LEN);
        assert!(c.ends_with("-conflict-update-change-4000000000.txt"));
        assert!(is_conflict_name(&c));
    }
}
