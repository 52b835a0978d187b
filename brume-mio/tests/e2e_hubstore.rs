//! The hub's store and accounts, end to end: file permissions, one hub per
//! data folder, refusing a data folder without a database, tokens that die
//! with the account, and the hub's logs.

mod common;
use common::*;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn the_store_is_private_to_its_owner() {
    let hub = Hub::start("perms");
    let _ = hub.add_user("alice", "pw-alice");
    assert_eq!(mode_of(&hub.data), 0o700);
    for file in [
        "brume.db",
        "brume.db-wal",
        "brume.db-shm",
        "hub.key",
        "brume.lock",
    ] {
        assert_eq!(mode_of(&hub.data.join(file)), 0o600, "{file}");
    }

    // A folder `user add` sets up before the first `serve` is private too.
    let fresh = hub.dir.join("fresh");
    let out = run_stdin(
        Command::new(BIN)
            .args(["user", "add", "bob", "--password-stdin", "--data"])
            .arg(&fresh),
        "pw-bob",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode_of(&fresh), 0o700);
    for file in ["brume.db", "hub.key"] {
        assert_eq!(mode_of(&fresh.join(file)), 0o600, "{file}");
    }
}

#[test]
fn user_commands_refuse_a_data_folder_without_a_database() {
    let dir = tmp("nodb");
    let typo = dir.join("typo");
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for data in [&typo, &empty] {
        for args in [
            &["user", "list"][..],
            &["user", "remove", "bob"][..],
            &["user", "passwd", "bob", "--password-stdin"][..],
            &["user", "revoke", "bob"][..],
        ] {
            let out = Command::new(BIN)
                .args(args)
                .arg("--data")
                .arg(data)
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
            let err = stderr(&out);
            assert!(
                err.contains("no hub database") && err.contains(&data.display().to_string()),
                "{args:?}: {err}"
            );
        }
    }
    assert!(!typo.exists(), "a mistyped --data is not created");
    assert!(!empty.join("brume.db").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs a command to its end, killing it (and failing) if it outlives [`LIMIT`].
fn output_within(cmd: &mut Command) -> std::process::Output {
    let child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("{cmd:?} did not exit within {LIMIT:?}");
        }
    }
}

fn serve(data: &Path) -> Proc {
    Proc::spawn(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data),
    )
}

#[test]
fn one_hub_per_data_folder_even_after_sigkill() {
    let mut hub = Hub::start("lock");
    let out = output_within(
        Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&hub.data),
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = stderr(&out);
    let pid = format!("pid {}", hub.proc.child.id());
    assert!(
        err.contains("another brume serve")
            && err.contains(&pid)
            && err.contains(&hub.data.display().to_string()),
        "{err}"
    );

    // The lock is a flock: the kernel drops it with the process.
    hub.proc.signal("-KILL");
    hub.proc.wait_exit();
    let mut again = serve(&hub.data);
    again.wait_line("listening on");

    // And a hub that stops cleanly lets the next one start.
    again.signal("-TERM");
    assert_eq!(again.wait_exit(), 0);
    let mut third = serve(&hub.data);
    third.wait_line("listening on");
}

fn user_cmd(hub: &Hub, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("user").args(args).arg("--data").arg(&hub.data);
    let out = match stdin {
        Some(input) => run_stdin(&mut cmd, input),
        None => output_within(&mut cmd),
    };
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    out
}

/// `brume login` into a new config file; its path.
fn login(hub: &Hub, name: &str, password: &str, file: &str) -> std::path::PathBuf {
    let conf = hub.dir.join(file);
    let out = run_stdin(
        Command::new(BIN).env("BRUME_CONF", &conf).args([
            "login",
            "--url",
            &hub.url,
            name,
            "--password-stdin",
        ]),
        password,
    );
    assert!(out.status.success(), "login: {}", stderr(&out));
    conf
}

/// A config whose tokens were revoked fails at once, saying to log in again.
fn assert_refused(conf: &Path) {
    let out = brume(conf, &["ping", "alice", "-c", "1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("brume login"), "{}", stderr(&out));
}

fn keep_copy(hub: &Hub, conf: &Path, name: &str) -> std::path::PathBuf {
    let copy = hub.dir.join(name);
    std::fs::copy(conf, &copy).unwrap();
    copy
}

#[test]
fn tokens_die_with_the_account_a_new_password_and_a_revocation() {
    let hub = Hub::start("revoke");
    let _alice = hub.add_user("alice", "pw-alice");
    let inbox = hub.dir.join("in");

    // Removed and added again: the old config does not log into the new account.
    let first = keep_copy(&hub, &hub.add_user("bob", "pw-1"), "bob-first.conf");
    let mut live = recv(&first, &inbox, false);
    user_cmd(&hub, &["remove", "bob"], None);
    assert_ne!(live.wait_exit(), 0, "the removed user's session ends");
    let second = keep_copy(&hub, &hub.add_user("bob", "pw-2"), "bob-second.conf");
    assert_refused(&first);

    // A new password: the live session closes, the old tokens are refused,
    // the new password logs in and the old one does not.
    let mut live = recv(&second, &inbox, false);
    user_cmd(&hub, &["passwd", "bob", "--password-stdin"], Some("pw-3"));
    assert_ne!(live.wait_exit(), 0, "the session of revoked tokens ends");
    assert_refused(&second);
    let out = run_stdin(
        Command::new(BIN)
            .env("BRUME_CONF", hub.dir.join("never.conf"))
            .args(["login", "--url", &hub.url, "bob", "--password-stdin"]),
        "pw-2",
    );
    assert_eq!(out.status.code(), Some(1), "the old password: {out:?}");
    let third = login(&hub, "bob", "pw-3", "bob-third.conf");

    // A revocation: the same, and the password still works.
    let mut live = recv(&third, &inbox, false);
    user_cmd(&hub, &["revoke", "bob"], None);
    assert_ne!(live.wait_exit(), 0, "the session of revoked tokens ends");
    assert_refused(&third);
    let fourth = login(&hub, "bob", "pw-3", "bob-fourth.conf");
    let _ready = recv(&fourth, &inbox, false);

    // Unknown users are errors, not silent successes (and no password is
    // asked for first).
    for args in [
        &["passwd", "carol", "--password-stdin"][..],
        &["revoke", "carol"][..],
    ] {
        let out = output_within(
            Command::new(BIN)
                .arg("user")
                .args(args)
                .arg("--data")
                .arg(&hub.data),
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains("no user carol"), "{}", stderr(&out));
    }
}

fn try_login(hub: &Hub, name: &str, password: &str) -> (std::process::Output, std::time::Duration) {
    let start = std::time::Instant::now();
    let out = run_stdin(
        Command::new(BIN)
            .env("BRUME_CONF", hub.dir.join("tried.conf"))
            .args(["login", "--url", &hub.url, name, "--password-stdin"]),
        password,
    );
    (out, start.elapsed())
}

#[test]
fn the_hub_logs_sessions_and_failures_and_slows_repeated_failures() {
    const PASSWORD: &str = "pw-bob-secret";
    let mut hub = Hub::start_logged("logs");
    let bob = hub.add_user("bob", PASSWORD);
    let conf: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bob).unwrap()).unwrap();
    let access = conf["access_token"].as_str().unwrap().to_owned();
    let refresh = conf["refresh_token"].as_str().unwrap().to_owned();

    // Sessions opening and closing, with user and address.
    let receiver = recv(&bob, &hub.dir.join("in"), false);
    let line = hub.proc.wait_line("session opened");
    assert!(
        line.contains("user=bob") && line.contains("addr=127.0.0.1:"),
        "{line}"
    );
    drop(receiver);
    let line = hub.proc.wait_line("session closed");
    assert!(
        line.contains("user=bob") && line.contains("addr=127.0.0.1:"),
        "{line}"
    );

    // Wrong passwords: logged with user and address, each answered later.
    let mut took = Vec::new();
    for wrong in ["wrong-1", "wrong-2", "wrong-3", "wrong-4"] {
        let (out, elapsed) = try_login(&hub, "bob", wrong);
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        took.push(elapsed);
        let line = hub.proc.wait_line("password login failed");
        assert!(
            line.contains("user=\"bob\"") && line.contains("addr=127.0.0.1:"),
            "{line}"
        );
    }
    // After three failures the address waits a second before the next
    // check starts (0.25 s, 0.5 s, 1 s: the delay doubles).
    assert!(
        took[3] >= std::time::Duration::from_millis(900),
        "the 4th try took {:?} ({took:?})",
        took[3]
    );
    assert!(took[3] > took[0], "{took:?}");

    // A refused token in `hello` is logged and counted too.
    let mut tampered = conf.clone();
    tampered["access_token"] = "x.y.z".into();
    tampered["refresh_token"] = serde_json::Value::Null;
    let bad = hub.dir.join("tampered.conf");
    std::fs::write(&bad, tampered.to_string()).unwrap();
    let start = std::time::Instant::now();
    let out = brume(&bad, &["ping", "carol", "-c", "1"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // Its `hello` waited out the 2 s the 4th failure earned the address.
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(1500),
        "answered after {:?}",
        start.elapsed()
    );
    let line = hub.proc.wait_line("token refused");
    assert!(
        line.contains("addr=127.0.0.1:")
            && line.contains("ETOKENINVALID")
            && line.contains("failures=5"),
        "{line}"
    );

    // Nothing the hub logged holds a secret.
    hub.proc.signal("-TERM");
    hub.proc.wait_line("hub stopped");
    for line in &hub.proc.seen {
        for secret in [PASSWORD, "wrong-1", &access, &refresh] {
            assert!(!line.contains(secret), "a secret in the log: {line}");
        }
    }
}

#[test]
fn hanging_up_does_not_dodge_the_slowdown() {
    let mut hub = Hub::start_logged("hangup");
    let _bob = hub.add_user("bob", "pw-bob");
    let login_url = format!("{}/login", hub.url);
    for _ in 0..3 {
        let (mut ws, _) = tungstenite::connect(login_url.as_str()).unwrap();
        let frame = r#"{"type":"login","user":"bob","password":"wrong"}"#;
        ws.send(tungstenite::Message::text(frame)).unwrap();
        drop(ws); // gone before the answer
        let line = hub.proc.wait_line("password login failed");
        assert!(line.contains("addr=127.0.0.1:"), "{line}");
    }
    let (out, took) = try_login(&hub, "bob", "wrong-again");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        took >= std::time::Duration::from_millis(900),
        "three failures, and the next try took only {took:?}"
    );
}
