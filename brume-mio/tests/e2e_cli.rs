//! End to end, the `brume` command as people use it: piped and two-way
//! chat, `recv --once` over a whole offer, escaped peer text, whom `recv`
//! accepts, and clear errors and help. Real hub, real processes; every wait
//! is on a line, a file or an exit, with a deadline.

mod common;
use common::*;

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;
use std::time::{Duration, Instant};

fn out_text(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn piped_chat_is_delivered_before_the_command_exits() {
    let hub = Hub::start("cli-pipe");
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");

    // Nobody there: with --no-wait it says so and fails.
    let out = brume_stdin(&alice, &["chat", "bob", "--no-wait"], "lost\n");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("bob is not online"),
        "{}",
        stderr(&out)
    );
    let out = brume_stdin(&alice, &["chat", "carol"], "hi\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no user carol"), "{}", stderr(&out));
    let out = brume_stdin(&alice, &["chat", "alice"], "hi\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot chat with yourself"),
        "{}",
        stderr(&out)
    );

    // Lines read before the connection opens, and the last ones before the
    // end of input, arrive; the command exits only after they did.
    let mut receiver = recv(&bob, &hub.dir.join("in"), false);
    let lines: String = (0..200).map(|i| format!("line {i}\n")).collect();
    let out = brume_stdin(&alice, &["chat", "bob"], &format!("hello\n{lines}bye\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    receiver.wait_line("alice: hello");
    receiver.wait_line("alice: line 199");
    receiver.wait_line("alice: bye");
}

#[test]
fn peer_text_is_escaped_before_it_reaches_a_terminal() {
    let hub = Hub::start("cli-escape");
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let mut receiver = recv(&bob, &hub.dir.join("in"), false);
    let evil = "\x1b]0;pwned\x07title \rover \u{202e}txt.exe\x7f";
    let out = brume_stdin(&alice, &["chat", "bob"], &format!("{evil}\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    let line = receiver.wait_line("alice: ");
    assert_eq!(
        line,
        "alice: \\x1b]0;pwned\\x07title \\x0dover \\u{202e}txt.exe\\x7f"
    );
}

/// Two chats, `first` started before `second` or both at once; they meet
/// and talk both ways, then end when their input ends.
fn chats_meet(first: &str, second: &str, at_once: bool) {
    let hub = Hub::start("cli-chat");
    let confs = [
        (first, hub.add_user(first, "pw-1")),
        (second, hub.add_user(second, "pw-2")),
    ];
    let chat = |me: usize| {
        let (_, conf) = &confs[me];
        let (other, _) = &confs[1 - me];
        spawn_talking(
            Command::new(BIN)
                .env("BRUME_CONF", conf)
                .args(["chat", other]),
        )
    };
    let (mut a, mut a_in) = chat(0);
    if !at_once {
        a.wait_line(&format!("{second} is not online; waiting"));
    }
    let (mut b, mut b_in) = chat(1);
    a.wait_line(&format!("connected to {second}"));
    b.wait_line(&format!("connected to {first}"));
    writeln!(a_in, "from {first}").unwrap();
    b.wait_line(&format!("{first}: from {first}"));
    writeln!(b_in, "from {second}").unwrap();
    a.wait_line(&format!("{second}: from {second}"));
    // The end of one side's input ends its chat; the other hears it left.
    drop(b_in);
    assert_eq!(b.wait_exit(), 0, "{:?}", b.seen);
    a.wait_line(&format!("stderr: {second} left"));
    assert_eq!(a.wait_exit(), 0, "{:?}", a.seen);
    drop(a_in);
}

#[test]
fn two_chats_meet_whoever_starts_first() {
    // The name that sorts first starts first, then second; then both at once
    // (glare: both offer, the endpoint keeps one connection).
    chats_meet("alice", "bob", false);
    chats_meet("bob", "alice", false);
    chats_meet("alice", "bob", true);
}

#[test]
fn recv_once_takes_every_file_of_one_send() {
    let hub = Hub::start("cli-once");
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let inbox = hub.dir.join("inbox");
    let mut receiver = recv(&bob, &inbox, true);
    let mut files = Vec::new();
    for (name, len) in [
        ("one.bin", 2_000_000u32),
        ("two.txt", 10),
        ("three.bin", 300_000),
    ] {
        let path = hub.dir.join(name);
        let data: Vec<u8> = (0..len).map(|i| (i * 13 + i / 97) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        files.push((name, path, data));
    }
    let mut args = vec!["send", "bob"];
    args.extend(files.iter().map(|(_, p, _)| p.to_str().unwrap()));
    let out = brume(&alice, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(receiver.wait_exit(), 0, "{:?}", receiver.seen);
    for (name, _, data) in &files {
        assert_eq!(&std::fs::read(inbox.join(name)).unwrap(), data, "{name}");
    }
    let left: Vec<_> = std::fs::read_dir(&inbox)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn recv_accepts_only_whom_it_is_told() {
    let hub = Hub::start("cli-from");
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let carol = hub.add_user("carol", "pw-c");
    let inbox = hub.dir.join("inbox");

    // No terminal to ask at and no flag: it refuses to start.
    // (A process with a deadline: a recv that starts anyway never exits.)
    let (mut lone, _stdin) = spawn_talking(
        Command::new(BIN)
            .env("BRUME_CONF", &bob)
            .args(["recv", "--dir"])
            .arg(&inbox),
    );
    lone.wait_line("stderr: brume: stdin is not a terminal");
    assert!(
        lone.seen.last().unwrap().contains("--yes"),
        "{:?}",
        lone.seen
    );
    assert_eq!(lone.wait_exit(), 1);

    let mut receiver = Proc::spawn(
        Command::new(BIN)
            .env("BRUME_CONF", &bob)
            .args(["recv", "--from", "alice", "--dir"])
            .arg(&inbox),
    );
    receiver.wait_line("ready as bob");
    let file = hub.dir.join("note.txt");
    std::fs::write(&file, "for bob only").unwrap();
    let out = brume(&carol, &["send", "bob", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bob declined"), "{}", stderr(&out));
    receiver.wait_line("refused a connection from carol");
    assert!(!inbox.join("note.txt").exists());

    let out = brume(&alice, &["send", "bob", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    receiver.wait_line("saved");
    assert_eq!(
        std::fs::read_to_string(inbox.join("note.txt")).unwrap(),
        "for bob only"
    );
}

#[test]
fn mistakes_get_clear_errors() {
    let hub = Hub::start("cli-errors");
    let alice = hub.add_user("alice", "pw-a");

    let out = brume(&alice, &["ping", "alice"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("you are alice: you cannot ping yourself"),
        "{}",
        stderr(&out)
    );

    // A hub URL with a path is refused before anything is written.
    let conf = hub.dir.join("login.conf");
    let login = |url: &str| {
        run_stdin(
            Command::new(BIN).env("BRUME_CONF", &conf).args([
                "login",
                "--url",
                url,
                "alice",
                "--password-stdin",
            ]),
            "pw-a",
        )
    };
    let out = login(&format!("{}/login", hub.url));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("without a path"), "{}", stderr(&out));
    assert!(!conf.exists());
    let out = login(&hub.url);
    assert!(out.status.success(), "{}", stderr(&out));

    // A port that accepts and says nothing is not a hub: a clear error
    // within the connect timeout, not "Interrupted handshake" after 30 s.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", silent.local_addr().unwrap());
    let start = Instant::now();
    let out = login(&url);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("no Brume hub answered at {url}")),
        "{}",
        stderr(&out)
    );
    assert!(start.elapsed() < Duration::from_secs(15));
    drop(silent);

    // A web server that is not a hub.
    let web = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}", web.local_addr().unwrap());
    let answer = std::thread::spawn(move || {
        let (mut s, _) = web.accept().unwrap();
        let mut buf = [0u8; 1024];
        let _ = std::io::Read::read(&mut s, &mut buf);
        let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
    });
    let out = login(&url);
    answer.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("no Brume hub at {url}")),
        "{}",
        stderr(&out)
    );

    // A config of binary garbage is named as such, not as missing.
    let garbage = hub.dir.join("garbage.conf");
    std::fs::write(&garbage, [0x00u8, 0xff, 0x13, 0x37, 0xfe, 0x80]).unwrap();
    let out = brume(&garbage, &["ping", "bob"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!("cannot parse the config {}", garbage.display())),
        "{}",
        stderr(&out)
    );

    // -v logs carry no colours when stderr is not a terminal.
    let out = brume(&alice, &["-vv", "ping", "bob", "-c", "1"]);
    assert!(stderr(&out).contains("DEBUG"), "{}", stderr(&out));
    assert!(!stderr(&out).contains('\x1b'), "{:?}", stderr(&out));
}

#[test]
fn help_says_what_brume_does_and_completes() {
    let help = |args: &[&str]| {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        out_text(&out)
    };
    let top = help(&["--help"]);
    assert!(top.contains("peer to peer"), "{top}");
    assert!(!top.contains("mio"), "{top}");
    assert!(!top.contains("--config"), "{top}");
    assert!(help(&["help", "--help"]).contains("Usage: brume help"));
    assert!(help(&["help", "user", "add"]).contains("Usage: brume user add"));
    for client in ["send", "recv", "chat", "ping", "login"] {
        assert!(help(&[client, "--help"]).contains("--config"), "{client}");
    }
    for hub_side in [
        &["serve"][..],
        &["user", "add"],
        &["user", "list"],
        &["demo"],
    ] {
        let mut args = hub_side.to_vec();
        args.push("--help");
        assert!(!help(&args).contains("--config"), "{hub_side:?}");
    }
    let bash = help(&["completions", "bash"]);
    assert!(bash.contains("_brume()") && bash.contains("recv"), "{bash}");
    assert!(help(&["completions", "zsh"]).contains("#compdef brume"));
    assert!(help(&["completions", "fish"]).contains("complete -c brume"));
    let out = Command::new(BIN).args(["help", "nosuch"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn off_a_terminal_progress_is_plain_lines_or_nothing() {
    let hub = Hub::start("cli-progress");
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let inbox = hub.dir.join("inbox");
    let file = hub.dir.join("payload.bin");
    std::fs::write(&file, vec![7u8; 3 << 20]).unwrap();
    let path = file.to_str().unwrap();

    let mut receiver = recv(&bob, &inbox, true);
    let out = brume(&alice, &["send", "bob", path, "--progress", "plain"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    for want in [
        "payload.bin: hashing 0 B/3.00 MiB (0 %)",
        "payload.bin: offered; waiting for the receiver (100 %)",
        "payload.bin: 3.00 MiB/3.00 MiB",
    ] {
        assert!(err.contains(want), "no {want:?} in {err}");
    }
    // One line per file at the end, naming it, with a rate.
    let text = out_text(&out);
    assert!(
        text.lines()
            .any(|l| l.starts_with("sent payload.bin (3.00 MiB) in ") && l.ends_with("/s")),
        "{text}"
    );
    receiver.wait_line("saved");
    assert_eq!(receiver.wait_exit(), 0);

    // By default, off a terminal: no progress at all.
    let mut receiver = recv(&bob, &inbox, true);
    let out = brume(&alice, &["send", "bob", path]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("MiB"), "{}", stderr(&out));
    let line = receiver.wait_line("saved");
    assert!(line.ends_with("payload (1).bin"), "{line}");
    assert_eq!(receiver.wait_exit(), 0);
}

#[test]
fn at_a_terminal_recv_asks_before_each_offer() {
    let hub = Hub::start("cli-ask");
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let inbox = hub.dir.join("inbox");
    // `script` gives recv a terminal; what the test writes is typed there.
    let line = format!(
        "{BIN} recv --once --progress none --dir {}",
        inbox.display()
    );
    let (mut receiver, mut keys) =
        spawn_talking(Command::new("script").env("BRUME_CONF", &bob).args([
            "-qec",
            &line,
            "/dev/null",
        ]));
    receiver.wait_line("ready as bob");
    let (yes, no) = (hub.dir.join("wanted.txt"), hub.dir.join("unwanted.txt"));
    std::fs::write(&yes, "keep me").unwrap();
    std::fs::write(&no, "not me").unwrap();
    let mut sender = Proc::spawn(
        Command::new(BIN)
            .env("BRUME_CONF", &alice)
            .args(["send", "bob"])
            .arg(&yes)
            .arg(&no),
    );
    for _ in 0..2 {
        let asked = receiver.wait_line("Accept? [y/N]");
        assert!(asked.contains("alice offers "), "{asked}");
        let answer = if asked.contains("wanted.txt (7 B)") && !asked.contains("unwanted") {
            "y"
        } else {
            assert!(asked.contains("unwanted.txt (6 B)"), "{asked}");
            "n"
        };
        writeln!(keys, "{answer}").unwrap();
    }
    assert_eq!(sender.wait_exit(), 1);
    assert_eq!(receiver.wait_exit(), 0, "{:?}", receiver.seen);
    assert_eq!(
        std::fs::read_to_string(inbox.join("wanted.txt")).unwrap(),
        "keep me"
    );
    assert!(!inbox.join("unwanted.txt").exists());
}

/// What a terminal shows of `raw`: its lines, split at `\r` and `\n`, with
/// escape sequences removed.
fn screen_lines(raw: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(raw);
    let mut out = Vec::new();
    for part in text.split(['\r', '\n']) {
        let mut line = String::new();
        let mut chars = part.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                // CSI: ESC [ parameters, then one final letter.
                if chars.next() == Some('[') {
                    for c in chars.by_ref() {
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                }
            } else {
                line.push(c);
            }
        }
        out.push(line);
    }
    out
}

#[test]
fn bars_fit_the_terminal() {
    let hub = Hub::start("cli-bars");
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let mut receiver = recv(&bob, &hub.dir.join("inbox"), true);
    let file = hub.dir.join("a-file-with-a-rather-long-name-indeed.bin");
    std::fs::write(&file, vec![3u8; 8 << 20]).unwrap();
    for cols in [70, 45] {
        let line = format!(
            "stty cols {cols} rows 20; {BIN} send bob {}",
            file.display()
        );
        let out = Command::new("script")
            .env("BRUME_CONF", &alice)
            .args(["-qec", &line, "/dev/null"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let lines = screen_lines(&out.stdout);
        // Bars, not the ordinary lines (which may wrap like any text).
        let bars: Vec<_> = lines
            .iter()
            .filter(|l| l.contains("MiB/") && !l.starts_with("sent "))
            .collect();
        assert!(!bars.is_empty(), "no bar drawn: {lines:?}");
        for l in &bars {
            assert!(l.chars().count() <= cols, "{} > {cols}: {l:?}", l.len());
        }
        if cols == 70 {
            receiver.wait_line("saved");
            assert_eq!(receiver.wait_exit(), 0);
            receiver = recv(&bob, &hub.dir.join("inbox"), true);
        }
    }
}

#[test]
fn once_the_terminal_input_ends_recv_declines_what_it_cannot_ask() {
    let hub = Hub::start("cli-eof");
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let inbox = hub.dir.join("inbox");
    let line = format!("{BIN} recv --dir {}", inbox.display());
    let (mut receiver, mut keys) =
        spawn_talking(Command::new("script").env("BRUME_CONF", &bob).args([
            "-qec",
            &line,
            "/dev/null",
        ]));
    receiver.wait_line("ready as bob");
    // Ctrl-D: the end of the terminal's input.
    keys.write_all(b"\x04").unwrap();
    keys.flush().unwrap();
    let file = hub.dir.join("note.txt");
    std::fs::write(&file, "hello").unwrap();
    let (mut sender, _stdin) = spawn_talking(
        Command::new(BIN)
            .env("BRUME_CONF", &alice)
            .args(["send", "bob"])
            .arg(&file),
    );
    sender.wait_line("declined by bob");
    assert_eq!(sender.wait_exit(), 1);
    assert!(!inbox.join("note.txt").exists());
}
