//! File transfer end to end, with a real hub and real `brume` processes:
//! a large folder with long names, name clashes between a folder and a
//! file, what a sender learns of the receiver's disk, symbolic links, and
//! names and the executable bit.

mod common;
use common::*;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;
use std::time::Duration;

use brume_proto::transfer::{block_size, content_hash, hash_block};

/// `brume send bob PATH… [extra]`; the command's output. A send that
/// hangs (as a large folder once did) fails the test.
fn send(conf: &Path, paths: &[&Path], extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&str> = vec!["send", "bob"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    args.extend(extra);
    let (out, exited) = brume_within(conf, &args, Duration::from_secs(120));
    assert!(exited, "brume send hung: {}", stderr(&out));
    out
}

/// Every file under `dir`, as (path relative to it, bytes), sorted.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

struct Pair {
    hub: Hub,
    alice: std::path::PathBuf,
    inbox: std::path::PathBuf,
    _receiver: Proc,
}

fn pair(name: &str) -> Pair {
    let hub = Hub::start(name);
    let alice = hub.add_user("alice", "pw-alice");
    let bob = hub.add_user("bob", "pw-bob");
    let inbox = hub.dir.join("inbox");
    let receiver = recv(&bob, &inbox, false);
    Pair {
        hub,
        alice,
        inbox,
        _receiver: receiver,
    }
}

#[test]
fn a_folder_of_3000_files_with_long_names_arrives_whole() {
    let p = pair("many");
    let top = p.hub.dir.join("many");
    for n in 0..3000 {
        let sub = top.join(format!("folder {:02}", n % 30));
        fs::create_dir_all(&sub).unwrap();
        let head = format!("file {n:04} ");
        let name = format!("{head}{}.txt", "n".repeat(150 - head.len() - 4));
        fs::write(sub.join(name), format!("content of {n}").repeat(1 + n % 5)).unwrap();
    }
    // The names alone are 450 KB: the manifest travels in pieces.
    let out = send(&p.alice, &[&top], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got = tree(&p.inbox.join("many"));
    assert_eq!(got.len(), 3000);
    assert_eq!(got, tree(&top));
}

#[test]
fn a_folder_named_like_a_file_there_gets_a_conflict_name() {
    let p = pair("clash");
    fs::create_dir_all(&p.inbox).unwrap();
    fs::write(p.inbox.join("single.bin"), b"already here").unwrap();
    let folder = p.hub.dir.join("single.bin");
    fs::create_dir_all(&folder).unwrap();
    fs::write(folder.join("inner.txt"), b"inner").unwrap();
    let out = send(&p.alice, &[&folder], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        fs::read(p.inbox.join("single.bin")).unwrap(),
        b"already here"
    );
    assert_eq!(
        fs::read(p.inbox.join("single (1).bin/inner.txt")).unwrap(),
        b"inner"
    );
}

#[test]
fn the_sender_learns_its_own_names_and_no_receiver_path() {
    let p = pair("leak");
    let data = b"some bytes that bob cannot store".to_vec();
    let file = p.hub.dir.join("a.txt");
    fs::write(&file, &data).unwrap();
    // bob's disk fails on this file: a folder sits where its temporary
    // file goes, so storing it fails with an error naming bob's path.
    let block = block_size(data.len() as u64);
    let root = content_hash(data.len() as u64, block, &[hash_block(&data)]);
    let hex: String = root.iter().map(|b| format!("{b:02x}")).collect();
    fs::create_dir_all(p.inbox.join(format!(".a.txt.{}.brume-part", &hex[..16]))).unwrap();
    let out = send(&p.alice, &[&file], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("the receiver could not store a.txt"), "{err}");
    let inbox = p.inbox.canonicalize().unwrap();
    assert!(!err.contains(inbox.to_str().unwrap()), "{err}");
    assert!(!err.contains("brume-part"), "{err}");
}

#[test]
fn links_inside_a_folder_are_skipped_unless_followed() {
    let p = pair("links");
    let secret = p.hub.dir.join("secret.txt");
    fs::write(&secret, b"not for bob").unwrap();
    let top = p.hub.dir.join("shared");
    fs::create_dir_all(top.join("sub")).unwrap();
    fs::write(top.join("sub/real.txt"), b"real").unwrap();
    symlink(&secret, top.join("passwd")).unwrap();
    symlink(top.join("sub"), top.join("again")).unwrap();
    symlink(p.hub.dir.join("nowhere"), top.join("dangling")).unwrap();
    symlink(&top, top.join("sub/loop")).unwrap();

    let out = send(&p.alice, &[&top], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    for link in ["passwd", "again", "dangling", "sub/loop"] {
        let named = format!("skipped the symbolic link {}", top.join(link).display());
        assert!(err.contains(&named), "{link}: {err}");
    }
    let got: Vec<String> = tree(&p.inbox.join("shared"))
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(got, vec!["sub/real.txt"]);

    // Followed: the file and the folder links arrive; the loop and the
    // dangling link are still skipped, by name.
    fs::rename(p.inbox.join("shared"), p.inbox.join("first")).unwrap();
    let out = send(&p.alice, &[&top], &["--follow-links"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{}: it points back to",
            top.join("sub/loop").display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}: its target cannot be read",
            top.join("dangling").display()
        )),
        "{err}"
    );
    let got = tree(&p.inbox.join("shared"));
    let names: Vec<&str> = got.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(names, vec!["again/real.txt", "passwd", "sub/real.txt"]);
    assert_eq!(got[1].1, b"not for bob");
}

#[test]
fn an_unreadable_entry_is_named_in_the_error() {
    let p = pair("unreadable");
    let top = p.hub.dir.join("odd");
    fs::create_dir_all(&top).unwrap();
    let bad = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(b"bad\xffname");
    fs::write(top.join(bad), b"x").unwrap();
    let out = send(&p.alice, &[&top], &[]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&top.join(bad).display().to_string()), "{err}");
    assert!(err.contains("not valid UTF-8"), "{err}");
}

#[test]
fn names_unix_can_store_arrive_as_sent_and_the_executable_bit_is_kept() {
    let p = pair("names");
    let top = p.hub.dir.join("notes");
    fs::create_dir_all(&top).unwrap();
    for name in ["meeting 12:30.txt", "what?.txt", "a*b", "back\\slash"] {
        fs::write(top.join(name), name).unwrap();
    }
    let script = top.join("run.sh");
    fs::write(&script, b"#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o750)).unwrap();
    let out = send(&p.alice, &[&top], &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Vec<String> = tree(&p.inbox.join("notes"))
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(
        got,
        vec![
            "a*b",
            "back\\slash",
            "meeting 12:30.txt",
            "run.sh",
            "what?.txt"
        ]
    );
    let mode = |name: &str| {
        fs::metadata(p.inbox.join("notes").join(name))
            .unwrap()
            .permissions()
            .mode()
    };
    assert_ne!(mode("run.sh") & 0o100, 0, "{:o}", mode("run.sh"));
    assert_eq!(mode("a*b") & 0o111, 0, "{:o}", mode("a*b"));

    // A name that disguises itself is refused before anything is sent.
    let evil = p.hub.dir.join("invoice\u{202e}fdp.exe");
    fs::write(&evil, b"x").unwrap();
    let out = send(&p.alice, &[&evil], &[]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("disguise"), "{}", stderr(&out));
}

#[test]
fn each_file_of_a_folder_is_named_on_both_sides() {
    let hub = Hub::start("perfile");
    let alice = hub.add_user("alice", "pw-alice");
    let bob = hub.add_user("bob", "pw-bob");
    let inbox = hub.dir.join("inbox");
    let mut receiver = spawn_merged(
        std::process::Command::new(BIN)
            .env("BRUME_CONF", &bob)
            .args(["recv", "--yes", "--progress", "none", "--dir"])
            .arg(&inbox),
    );
    receiver.wait_line("ready as");
    let top = hub.dir.join("album");
    fs::create_dir_all(top.join("sub")).unwrap();
    fs::write(top.join("one.txt"), b"1").unwrap();
    fs::write(top.join("sub/two.txt"), b"22").unwrap();
    let out = send(&alice, &[&top], &["--progress", "none"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    for line in [
        "sent album/one.txt (1 B)",
        "sent album/sub/two.txt (2 B)",
        "sent album (2 files, 3 B)",
    ] {
        assert!(
            said.lines().any(|l| l.starts_with(line)),
            "no {line:?} in {said}"
        );
    }
    let saved: Vec<String> = (0..2).map(|_| receiver.wait_line("saved ")).collect();
    for name in ["album/one.txt", "album/sub/two.txt"] {
        assert!(
            saved.iter().any(|l| l.ends_with(name)),
            "{name} not in {saved:?}"
        );
    }
}
