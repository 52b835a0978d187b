//! Several devices of one user, with real processes: `brume login
//! --device`, a `send` that leaves the same user's `recv` running, and a
//! call to a user reaching the process of theirs that takes calls.

mod common;
use common::*;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `brume login --url URL USER [--device D]` into `conf`, password on stdin.
fn login(hub: &Hub, conf: &Path, user: &str, password: &str, device: Option<&str>) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.env("BRUME_CONF", conf)
        .args(["login", "--url", &hub.url, user, "--password-stdin"]);
    if let Some(d) = device {
        cmd.args(["--device", d]);
    }
    run_stdin(&mut cmd, password)
}

fn config_json(conf: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(conf).unwrap()).unwrap()
}

fn file(hub: &Hub, name: &str, len: usize) -> (PathBuf, Vec<u8>) {
    let path = hub.dir.join(name);
    let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

fn still_running(p: &mut Proc) -> bool {
    p.child.try_wait().unwrap().is_none()
}

#[test]
fn a_send_leaves_the_same_users_recv_running() {
    let hub = Hub::start("devices-send");
    let alice = hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let alice_in = hub.dir.join("alice-in");
    let bob_in = hub.dir.join("bob-in");
    let mut alice_recv = recv(&alice, &alice_in, false);
    let mut bob_recv = recv(&bob, &bob_in, true);

    // alice sends from the same config, so the same device, as her recv.
    let (one, one_data) = file(&hub, "one.bin", 200_000);
    let out = brume(&alice, &["send", "bob", one.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(bob_recv.wait_exit(), 0, "{:?}", bob_recv.seen);
    assert_eq!(std::fs::read(bob_in.join("one.bin")).unwrap(), one_data);

    // Her recv was not replaced, and a call to alice reaches it, not a send.
    assert!(still_running(&mut alice_recv), "{:?}", alice_recv.seen);
    let (two, two_data) = file(&hub, "two.bin", 50_000);
    let out = brume(&bob, &["send", "alice", two.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    wait_line_within(
        &mut alice_recv,
        "two.bin",
        std::time::Duration::from_secs(10),
    );
    let got = std::fs::read(alice_in.join("two.bin"));
    assert_eq!(got.ok(), Some(two_data));
    assert!(still_running(&mut alice_recv), "{:?}", alice_recv.seen);
    assert!(
        !alice_recv
            .seen
            .iter()
            .any(|l| l.contains("replaced") || l.contains("another")),
        "{:?}",
        alice_recv.seen
    );
}

#[test]
fn login_names_the_device_and_calls_reach_the_device_used_last() {
    let hub = Hub::start("devices-login");
    hub.add_user("alice", "pw-a");
    let bob = hub.add_user("bob", "pw-b");
    let laptop = hub.dir.join("laptop.conf");
    let phone = hub.dir.join("phone.conf");

    for bad in ["Laptop", "laptop~1", "a/b", &"x".repeat(33)] {
        let out = login(&hub, &laptop, "alice", "pw-a", Some(bad));
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(
            stderr(&out).contains("bad device name"),
            "{bad}: {}",
            stderr(&out)
        );
        assert!(!laptop.exists());
    }
    let out = login(&hub, &laptop, "alice", "pw-a", Some("laptop"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("on device laptop"));
    assert_eq!(config_json(&laptop)["device"], "laptop");
    // By default the device comes from the host name, and is a valid name.
    let out = login(&hub, &phone, "alice", "pw-a", None);
    assert!(out.status.success(), "{}", stderr(&out));
    let host = config_json(&phone)["device"].as_str().unwrap().to_owned();
    assert!(
        brume_proto::signal::DeviceName::new(host.as_str()).is_ok(),
        "{host}"
    );
    let out = login(&hub, &phone, "alice", "pw-a", Some("phone"));
    assert!(out.status.success(), "{}", stderr(&out));

    // Two recvs of alice at once, on two devices; the phone's started last.
    let laptop_in = hub.dir.join("laptop-in");
    let phone_in = hub.dir.join("phone-in");
    let mut on_laptop = recv(&laptop, &laptop_in, false);
    let mut on_phone = recv(&phone, &phone_in, true);
    let (f, data) = file(&hub, "f.bin", 30_000);
    let out = brume(&bob, &["send", "alice", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(on_phone.wait_exit(), 0, "{:?}", on_phone.seen);
    assert_eq!(std::fs::read(phone_in.join("f.bin")).unwrap(), data);
    assert!(!laptop_in.join("f.bin").exists());
    assert!(still_running(&mut on_laptop), "{:?}", on_laptop.seen);
}

#[test]
fn a_user_sends_from_one_of_her_devices_to_another_by_name() {
    let hub = Hub::start("devices-own");
    hub.add_user("alice", "pw-a");
    let laptop = hub.dir.join("laptop.conf");
    let phone = hub.dir.join("phone.conf");
    for (conf, device) in [(&laptop, "laptop"), (&phone, "phone")] {
        let out = login(&hub, conf, "alice", "pw-a", Some(device));
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let phone_in = hub.dir.join("phone-in");
    let mut phone_recv = recv(&phone, &phone_in, true);

    let (photo, data) = file(&hub, "photo.bin", 120_000);
    let out = brume(&laptop, &["send", "alice/phone", photo.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(phone_recv.wait_exit(), 0, "{:?}", phone_recv.seen);
    assert_eq!(std::fs::read(phone_in.join("photo.bin")).unwrap(), data);

    // A bare `alice` from alice is ambiguous: the command asks for a device.
    let out = brume(&laptop, &["send", "alice", photo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("alice/DEVICE"), "{}", stderr(&out));
}
