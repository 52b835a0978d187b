//! `SyncPath`: a path inside a group folder that cannot escape it.

use std::fmt;

use crate::transfer::names::{UnsafeName, check_relative_path};

/// A `/`-separated path relative to a group folder (`OWNER/GROUP`).
///
/// Every component passes the transfer's name checks (no empty component,
/// no `.` or `..`, no `/`, NUL or control characters, at most 32 deep), so
/// a `SyncPath` can never name anything outside its group folder.
/// Ordered by components, so a folder sorts just before what it holds
/// (`a` < `a/b` < `a-b`): sorted maps list parents first.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SyncPath(Vec<String>);

impl SyncPath {
    /// Parses a path such as `photos/2024/a.jpg`, refusing one that would
    /// escape the group folder or that no platform should store.
    pub fn parse(path: &str) -> Result<Self, UnsafeName> {
        check_relative_path(path).map(SyncPath)
    }

    /// The path's components, outermost first (never empty).
    pub fn components(&self) -> &[String] {
        &self.0
    }

    /// The last component: the file's or folder's own name.
    pub fn name(&self) -> &str {
        // A SyncPath always has at least one component (parse refuses "").
        self.0.last().map(String::as_str).unwrap_or_default()
    }

    /// The folder holding this path, or `None` at the top of the group.
    pub fn parent(&self) -> Option<SyncPath> {
        (self.0.len() > 1).then(|| SyncPath(self.0[..self.0.len() - 1].to_vec()))
    }

    /// The same folder, another name (`name` must pass the name checks).
    pub fn with_name(&self, name: &str) -> SyncPath {
        let mut parts = self.0.clone();
        if let Some(last) = parts.last_mut() {
            *last = name.to_owned();
        }
        SyncPath(parts)
    }

    /// Whether `self` lies inside the folder `dir` (not `dir` itself).
    pub fn is_inside(&self, dir: &SyncPath) -> bool {
        self.0.len() > dir.0.len() && self.0.starts_with(&dir.0)
    }

    /// How many components deep the path is (1 at the top of the group).
    pub fn depth(&self) -> usize {
        self.0.len()
    }
}

impl fmt::Display for SyncPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("/"))
    }
}

impl serde::Serialize for SyncPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for SyncPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SyncPath::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_escape_are_refused() {
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a//b",
            "a/",
            "",
            ".",
            "a/./b",
            "a\0b",
        ] {
            assert!(SyncPath::parse(bad).is_err(), "{bad:?}");
        }
        let ok = SyncPath::parse("a/b.txt").unwrap();
        assert_eq!(ok.to_string(), "a/b.txt");
        assert_eq!(ok.name(), "b.txt");
        assert_eq!(ok.parent(), Some(SyncPath::parse("a").unwrap()));
    }

    #[test]
    fn folders_sort_just_before_their_content() {
        let a = SyncPath::parse("a").unwrap();
        let ab = SyncPath::parse("a/b").unwrap();
        let a_b = SyncPath::parse("a-b").unwrap();
        assert!(a < ab && ab < a_b);
        assert!(ab.is_inside(&a) && !a_b.is_inside(&a) && !a.is_inside(&a));
    }

    #[test]
    fn a_hostile_path_in_json_is_refused() {
        let r: Result<SyncPath, _> = serde_json::from_str("\"../../.ssh/id\"");
        assert!(r.is_err());
    }
}
