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
///
/// Held as one string, not a list of components: a group of ten thousand
/// files keeps its paths in several maps (manifest, base, hash cache), and a
/// list cost about a hundred bytes more per path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyncPath(Box<str>);

impl SyncPath {
    /// Parses a path such as `photos/2024/a.jpg`, refusing one that would
    /// escape the group folder or that no platform should store.
    pub fn parse(path: &str) -> Result<Self, UnsafeName> {
        check_relative_path(path).map(|parts| SyncPath(parts.join("/").into()))
    }

    /// The path's components, outermost first (never empty).
    pub fn components(&self) -> std::str::Split<'_, char> {
        self.0.split('/')
    }

    /// The last component: the file's or folder's own name.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
    }

    /// The folder holding this path, or `None` at the top of the group.
    pub fn parent(&self) -> Option<SyncPath> {
        self.0.rfind('/').map(|at| SyncPath(self.0[..at].into()))
    }

    /// The same folder, another name (`name` must pass the name checks).
    pub fn with_name(&self, name: &str) -> SyncPath {
        match self.0.rfind('/') {
            Some(at) => SyncPath(format!("{}/{name}", &self.0[..at]).into()),
            None => SyncPath(name.into()),
        }
    }

    /// Whether `self` lies inside the folder `dir` (not `dir` itself).
    pub fn is_inside(&self, dir: &SyncPath) -> bool {
        self.0.len() > dir.0.len()
            && self.0.starts_with(&*dir.0)
            && self.0.as_bytes()[dir.0.len()] == b'/'
    }

    /// How many components deep the path is (1 at the top of the group).
    pub fn depth(&self) -> usize {
        self.0.bytes().filter(|&b| b == b'/').count() + 1
    }
}

impl Ord for SyncPath {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Component by component is byte by byte with the separator below
        // every byte a name may hold (names refuse NUL and control
        // characters): where one component ends and the other goes on, the
        // shorter sorts first.
        let key = |b: u8| if b == b'/' { 0 } else { b };
        self.0.bytes().map(key).cmp(other.0.bytes().map(key))
    }
}

impl PartialOrd for SyncPath {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for SyncPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for SyncPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
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
    fn the_order_is_that_of_the_components() {
        let names = [
            "a", "a/b", "a/b/c", "a-b", "a.b", "a b", "ab", "a/ b", "b", "é", "a/é", "a!", "a/!",
            "~",
        ];
        for x in names {
            for y in names {
                let (px, py) = (SyncPath::parse(x).unwrap(), SyncPath::parse(y).unwrap());
                let by_parts = x.split('/').cmp(y.split('/'));
                assert_eq!(px.cmp(&py), by_parts, "{x:?} against {y:?}");
            }
        }
        let deep = SyncPath::parse("a/b/c").unwrap();
        assert_eq!(deep.depth(), 3);
        assert_eq!(deep.with_name("d").to_string(), "a/b/d");
        assert_eq!(
            SyncPath::parse("x").unwrap().with_name("y").to_string(),
            "y"
        );
        assert_eq!(deep.components().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert!(deep.is_inside(&SyncPath::parse("a/b").unwrap()));
        assert!(
            !SyncPath::parse("a/bc")
                .unwrap()
                .is_inside(&SyncPath::parse("a/b").unwrap())
        );
    }

    #[test]
    fn a_hostile_path_in_json_is_refused() {
        let r: Result<SyncPath, _> = serde_json::from_str("\"../../.ssh/id\"");
        assert!(r.is_err());
    }
}
