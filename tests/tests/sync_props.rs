//! The sync planner's promises, on random trees and on the seed's cases:
//! a member converges to the owner's tree plus a conflict copy of every
//! change of its own; the owner is never touched; a plan run twice changes
//! nothing the second time; renames move content instead of fetching it.

mod sync_model;

use brume_proto::sync::{ConflictKind, Manifest, Step, is_conflict_name, plan};
use proptest::prelude::*;
use sync_model::{Item, Tree, apply, hash_of, is_kept_copy, manifest, put, remove};

const NAMES: [&str; 5] = ["a", "b", "c.txt", "d", "x-conflict-sync.txt"];

#[derive(Debug, Clone)]
enum Edit {
    Put(Vec<String>, Item),
    Remove(Vec<String>),
}

fn path() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(prop::sample::select(NAMES.to_vec()), 1..4)
        .prop_map(|v| v.into_iter().map(String::from).collect())
}

fn item(links: bool) -> impl Strategy<Value = Item> {
    let content = prop::sample::select(vec![&b"1"[..], b"2", b"3", b"", b"44"]);
    let link_weight = if links { 1 } else { 0 };
    prop_oneof![
        2 => Just(Item::Dir),
        5 => content.prop_map(|c| Item::File(c.to_vec())),
        link_weight => Just(Item::Link),
    ]
}

fn edits(links: bool) -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(
        prop_oneof![
            4 => (path(), item(links)).prop_map(|(p, i)| Edit::Put(p, i)),
            1 => path().prop_map(Edit::Remove),
        ],
        0..10,
    )
}

fn edited(tree: &Tree, edits: &[Edit]) -> Tree {
    let mut t = tree.clone();
    for e in edits {
        match e {
            Edit::Put(p, i) => put(&mut t, p, i.clone()),
            Edit::Remove(p) => remove(&mut t, p),
        }
    }
    t
}

/// Base (the owner's tree at the last sync), owner now, member now.
fn trees() -> impl Strategy<Value = (Tree, Tree, Tree)> {
    (edits(false), edits(false), edits(true)).prop_map(|(b, o, m)| {
        let base = edited(&Tree::new(), &b);
        let owner = edited(&base, &o);
        let member = edited(&base, &m);
        (base, owner, member)
    })
}

fn check_sync(base: &Tree, owner: &Tree, member: &Tree) -> Result<(), TestCaseError> {
    let (om, mm, bm) = (
        manifest(owner, true),
        manifest(member, false),
        manifest(base, true),
    );
    let owner_before = owner.clone();
    let p = plan(&om, &mm, &bm);
    let mut after = member.clone();
    apply(&p, &mut after, owner);
    prop_assert_eq!(owner, &owner_before, "the owner is never touched");

    // The owner's tree, exactly.
    for (path, item) in owner {
        prop_assert_eq!(
            after.get(path),
            Some(item),
            "{:?} as the owner has it\n{:#?}",
            path,
            p
        );
    }
    // Anything else is a kept copy, or a folder holding one.
    for path in after.keys().filter(|p| !owner.contains_key(*p)) {
        let holds_copy = after.keys().any(|q| q.starts_with(path) && is_kept_copy(q));
        prop_assert!(
            holds_copy,
            "{:?} is neither the owner's nor a kept copy\n{:#?}",
            path,
            p
        );
    }
    // Every change of the member's own is still there, off the owner's paths.
    for (path, item) in member.iter().filter(|(_, i)| **i != Item::Dir) {
        let own_change = *item == Item::Link || base.get(path) != Some(item);
        if !own_change || owner.get(path) == Some(item) {
            continue;
        }
        let kept = after
            .iter()
            .any(|(q, i)| i == item && !owner.contains_key(q) && is_kept_copy(q));
        prop_assert!(
            kept,
            "the member's {:?} ({:?}) was lost\n{:#?}",
            path,
            item,
            p
        );
    }
    for step in &p.steps {
        if let Step::Keep { to, .. } = step {
            prop_assert!(is_conflict_name(to.name()), "{}", to);
        }
    }

    // Twice: the same plan again changes nothing, and a new plan is empty.
    let mut again = after.clone();
    apply(&p, &mut again, owner);
    prop_assert_eq!(
        &again,
        &after,
        "the plan run a second time changed something"
    );
    let replan = plan(&om, &manifest(&after, false), &om);
    prop_assert!(replan.is_empty(), "a second sync planned {:#?}", replan);
    // An owner's own tree is already in sync, whatever the base.
    prop_assert!(plan(&om, &manifest(owner, false), &bm).is_empty());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_pair_of_trees_converges_keeping_member_changes((base, owner, member) in trees()) {
        check_sync(&base, &owner, &member)?;
    }

    #[test]
    fn a_first_sync_without_a_base_converges(owner in edits(false), member in edits(true)) {
        let owner = edited(&Tree::new(), &owner);
        let member = edited(&Tree::new(), &member);
        check_sync(&Tree::new(), &owner, &member)?;
    }

    #[test]
    fn the_plan_is_deterministic((base, owner, member) in trees()) {
        let (om, mm, bm) = (manifest(&owner, true), manifest(&member, false), manifest(&base, true));
        prop_assert_eq!(plan(&om, &mm, &bm), plan(&om.clone(), &mm.clone(), &bm.clone()));
    }
}

fn tree(entries: &[(&str, Option<&[u8]>)]) -> Tree {
    let mut t = Tree::new();
    for (p, c) in entries {
        let parts: Vec<String> = p.split('/').map(String::from).collect();
        put(
            &mut t,
            &parts,
            c.map_or(Item::Dir, |c| Item::File(c.to_vec())),
        );
    }
    t
}

fn run(base: &Tree, owner: &Tree, member: &Tree) -> (brume_proto::sync::Plan, Tree, u64) {
    let p = plan(
        &manifest(owner, true),
        &manifest(member, false),
        &manifest(base, true),
    );
    let mut after = member.clone();
    let fetched = apply(&p, &mut after, owner);
    (p, after, fetched)
}

fn keeps(p: &brume_proto::sync::Plan) -> Vec<(String, String, ConflictKind)> {
    p.steps
        .iter()
        .filter_map(|s| match s {
            Step::Keep { path, to, kind, .. } => Some((path.to_string(), to.to_string(), *kind)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_touched_file_or_an_identical_copy_is_no_conflict() {
    let base = tree(&[("a.txt", Some(b"one"))]);
    let owner = tree(&[("a.txt", Some(b"one")), ("new.txt", Some(b"two"))]);
    // The member copied new.txt by hand, byte for byte; a.txt only touched.
    let member = owner.clone();
    let (p, _, _) = run(&base, &owner, &member);
    assert!(p.is_empty(), "{p:#?}");
}

#[test]
fn the_seed_table_names_each_case() {
    use ConflictKind::*;
    let base = tree(&[
        ("same.txt", Some(b"0")),
        ("both.txt", Some(b"0")),
        ("gone.txt", Some(b"0")),
    ]);
    let owner = tree(&[
        ("same.txt", Some(b"0")),
        ("both.txt", Some(b"owner")),
        ("added.txt", Some(b"owner")),
    ]);
    let member = tree(&[
        ("same.txt", Some(b"member")),
        ("both.txt", Some(b"member")),
        ("added.txt", Some(b"member")),
        ("gone.txt", Some(b"member")),
        ("mine.txt", Some(b"member")),
    ]);
    let (p, after, _) = run(&base, &owner, &member);
    assert_eq!(
        keeps(&p),
        vec![
            (
                "added.txt".into(),
                "added-conflict-update-add.txt".into(),
                UpdateAdd
            ),
            (
                "both.txt".into(),
                "both-conflict-update-change.txt".into(),
                UpdateChange
            ),
            (
                "gone.txt".into(),
                "gone-conflict-update-change.txt".into(),
                UpdateChange
            ),
            ("mine.txt".into(), "mine-conflict-sync.txt".into(), Sync),
            ("same.txt".into(), "same-conflict-sync.txt".into(), Sync),
        ]
    );
    let key = |s: &str| vec![s.to_owned()];
    assert_eq!(
        after.get(&key("same.txt")),
        Some(&Item::File(b"0".to_vec()))
    );
    assert_eq!(
        after.get(&key("same-conflict-sync.txt")),
        Some(&Item::File(b"member".to_vec()))
    );
    assert_eq!(after.get(&key("gone.txt")), None);
}

#[test]
fn a_second_conflict_takes_the_next_number() {
    let base = tree(&[("n.txt", Some(b"0"))]);
    let owner = base.clone();
    let member = tree(&[
        ("n.txt", Some(b"edit 2")),
        ("n-conflict-sync.txt", Some(b"edit 1")),
    ]);
    let (p, after, _) = run(&base, &owner, &member);
    assert_eq!(keeps(&p)[0].1, "n-conflict-sync-2.txt");
    assert_eq!(after.len(), 3);
}

#[test]
fn member_deletions_are_restored_and_owner_deletions_applied() {
    let base = tree(&[("keep.txt", Some(b"k")), ("d/old.txt", Some(b"o"))]);
    let owner = tree(&[("keep.txt", Some(b"k"))]);
    let member = tree(&[("d/old.txt", Some(b"o"))]);
    let (p, after, _) = run(&base, &owner, &member);
    assert!(keeps(&p).is_empty());
    assert_eq!(after, owner);
}

#[test]
fn a_rename_moves_content_without_fetching_it() {
    let base = tree(&[
        ("a/photo.jpg", Some(b"big content")),
        ("b.txt", Some(b"x")),
        ("c.txt", Some(b"y")),
    ]);
    // Moved into another folder, and two files swapped.
    let owner = tree(&[
        ("z/q/photo.jpg", Some(b"big content")),
        ("b.txt", Some(b"y")),
        ("c.txt", Some(b"x")),
    ]);
    let (p, after, fetched) = run(&base, &owner, &base);
    assert_eq!(after, owner);
    assert_eq!(fetched, 0, "{p:#?}");
    assert!(p.fetches().next().is_none());
}

#[test]
fn a_changed_file_is_fetched_over_its_older_version() {
    let base = tree(&[("big.bin", Some(b"version 1"))]);
    let owner = tree(&[("big.bin", Some(b"version 2"))]);
    let (p, after, _) = run(&base, &owner, &base);
    assert_eq!(after, owner);
    assert_eq!(
        p.steps,
        vec![Step::Fetch {
            path: brume_proto::sync::SyncPath::parse("big.bin").unwrap(),
            size: 9,
            hash: hash_of(b"version 2"),
            replaces: Some(hash_of(b"version 1")),
        }]
    );
}

#[test]
fn a_member_folder_in_the_way_of_an_owner_file_is_kept_whole() {
    let base = Tree::new();
    let owner = tree(&[("notes", Some(b"owner"))]);
    let member = tree(&[
        ("notes/mine.txt", Some(b"m")),
        ("notes/sub/deep.txt", Some(b"d")),
    ]);
    let (p, after, _) = run(&base, &owner, &member);
    assert_eq!(
        keeps(&p),
        vec![(
            "notes".into(),
            "notes-conflict-update-add".into(),
            ConflictKind::UpdateAdd
        )]
    );
    let key = |s: &str| s.split('/').map(String::from).collect::<Vec<_>>();
    assert_eq!(
        after.get(&key("notes-conflict-update-add/sub/deep.txt")),
        Some(&Item::File(b"d".to_vec()))
    );
    assert_eq!(
        after.get(&key("notes")),
        Some(&Item::File(b"owner".to_vec()))
    );
}

#[test]
fn a_member_symlink_is_never_written_through() {
    let mut member = Tree::new();
    put(&mut member, &["f".to_owned()], Item::Link);
    let owner = tree(&[("f", Some(b"owner"))]);
    let (p, after, _) = run(&Tree::new(), &owner, &member);
    assert_eq!(keeps(&p)[0].1, "f-conflict-update-add");
    assert_eq!(
        after.get(&vec!["f-conflict-update-add".to_owned()]),
        Some(&Item::Link)
    );
    assert_eq!(
        after.get(&vec!["f".to_owned()]),
        Some(&Item::File(b"owner".to_vec()))
    );
}

#[test]
fn an_owner_manifest_refuses_symlinks() {
    let mut owner = Tree::new();
    put(&mut owner, &["l".to_owned()], Item::Link);
    assert_eq!(manifest(&owner, true), Manifest::new());
}
