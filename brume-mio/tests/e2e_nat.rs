//! The NAT lab: network namespaces joined by veth pairs, with iptables NAT,
//! all made by this test and removed after it (also when it fails). A
//! "public" namespace routes between the others and holds the hub (with its
//! STUN server) and Debian's coturn; each peer sits in a namespace of its
//! own, behind a router namespace doing MASQUERADE (endpoint-independent
//! mapping, port-restricted filtering), MASQUERADE --random (symmetric), or
//! no NAT. Every pair tested connects by name with real `brume` processes
//! and `brume ping` names the path, which must be direct where the NATs
//! allow it and relayed where they don't.
//!
//! Addresses (198.18.0.0/15, 10.0.0.0/8) exist only inside the namespaces.
//! Needs root, `ip netns`, iptables and coturn; skipped with a message on
//! stderr where any is missing.

mod common;
use common::*;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Nat {
    None,
    /// MASQUERADE: the mapping keeps its port for every destination.
    Cone,
    /// MASQUERADE --random: a new port for every destination.
    Symmetric,
}

/// Everything the lab made; dropping it removes all of it.
struct Lab {
    prefix: String,
    namespaces: Vec<String>,
    procs: Vec<Proc>,
    dir: PathBuf,
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Processes first (each `ip netns exec` became its command).
        self.procs.clear();
        for ns in self.namespaces.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn skip(why: &str) {
    // Straight to stderr: libtest captures only the print macros.
    let _ = writeln!(std::io::stderr(), "SKIPPED: the NAT lab needs {why}");
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{args:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

const SERVER: &str = "198.18.0.1";
const SECRET: &str = "brume-nat-lab-secret";

impl Lab {
    /// The lab's public namespace, or `None` (with the reason printed)
    /// where namespaces or tools are missing.
    /// `tag` (one letter) keeps the names of tests running at once apart.
    fn new(tag: char) -> Option<Self> {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        if !root {
            skip("root");
            return None;
        }
        for tool in ["ip", "iptables", "turnserver"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !found {
                skip(&format!(
                    "`{tool}` (apt-get install -y iproute2 iptables coturn)"
                ));
                return None;
            }
        }
        let prefix = format!("bn{}{tag}", std::process::id() % 100_000);
        let mut lab = Self {
            prefix,
            namespaces: Vec::new(),
            procs: Vec::new(),
            dir: tmp("nat"),
        };
        let public = lab.ns("pub");
        if let Err(e) = lab.add_ns(&public) {
            // Ours already (a clash of names) is a bug, not a missing feature.
            assert!(!e.contains("File exists"), "{e}");
            skip(&format!("network namespaces ({e})"));
            return None;
        }
        lab.exec_ok(
            &public,
            &["ip", "addr", "add", &format!("{SERVER}/32"), "dev", "lo"],
        );
        lab.exec_ok(&public, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        // A default route into a namespace that drops everything, as a
        // real server has a default route: without one, coturn's send to a
        // peer's private host candidate fails with ENETUNREACH, and coturn
        // then drops the whole allocation.
        let sink = lab.ns("sink");
        lab.add_ns(&sink).unwrap();
        lab.link(
            (&public, "198.19.255.1/30"),
            (&sink, "198.19.255.2/30"),
            "sk",
        );
        lab.exec_ok(
            &public,
            &["ip", "route", "add", "default", "via", "198.19.255.2"],
        );
        Some(lab)
    }

    fn ns(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    fn add_ns(&mut self, ns: &str) -> Result<(), String> {
        run(&["ip", "netns", "add", ns])?;
        self.namespaces.push(ns.to_owned());
        run(&["ip", "-n", ns, "link", "set", "lo", "up"])
    }

    fn exec_ok(&self, ns: &str, args: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", ns];
        full.extend_from_slice(args);
        run(&full).unwrap();
    }

    /// A veth pair between two namespaces, addressed and up.
    fn link(&self, a: (&str, &str), b: (&str, &str), name: &str) -> (String, String) {
        let (ea, eb) = (
            format!("{}{name}a", self.prefix),
            format!("{}{name}b", self.prefix),
        );
        run(&[
            "ip", "link", "add", &ea, "type", "veth", "peer", "name", &eb,
        ])
        .unwrap();
        for ((ns, addr), dev) in [(a, &ea), (b, &eb)] {
            run(&["ip", "link", "set", dev, "netns", ns]).unwrap();
            run(&["ip", "-n", ns, "addr", "add", addr, "dev", dev]).unwrap();
            run(&["ip", "-n", ns, "link", "set", dev, "up"]).unwrap();
        }
        (ea, eb)
    }

    /// Peer host number `k` (1..=200) behind `nat`; its namespace.
    fn host(&mut self, k: u8, nat: Nat) -> String {
        let public = self.ns("pub");
        let host = self.ns(&format!("h{k}"));
        self.add_ns(&host).unwrap();
        let public_side = format!("198.18.{k}.1");
        match nat {
            Nat::None => {
                self.link(
                    (&host, &format!("198.18.{k}.2/24")),
                    (&public, &format!("{public_side}/24")),
                    &format!("h{k}"),
                );
                run(&[
                    "ip",
                    "-n",
                    &host,
                    "route",
                    "add",
                    "default",
                    "via",
                    &public_side,
                ])
                .unwrap();
            }
            Nat::Cone | Nat::Symmetric => {
                let router = self.ns(&format!("n{k}"));
                self.add_ns(&router).unwrap();
                self.link(
                    (&host, &format!("10.0.{k}.2/24")),
                    (&router, &format!("10.0.{k}.1/24")),
                    &format!("h{k}"),
                );
                let (out, _) = self.link(
                    (&router, &format!("198.18.{k}.2/24")),
                    (&public, &format!("{public_side}/24")),
                    &format!("n{k}"),
                );
                run(&[
                    "ip",
                    "-n",
                    &host,
                    "route",
                    "add",
                    "default",
                    "via",
                    &format!("10.0.{k}.1"),
                ])
                .unwrap();
                run(&[
                    "ip",
                    "-n",
                    &router,
                    "route",
                    "add",
                    "default",
                    "via",
                    &public_side,
                ])
                .unwrap();
                self.exec_ok(&router, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
                let mut rule = vec![
                    "iptables",
                    "-t",
                    "nat",
                    "-A",
                    "POSTROUTING",
                    "-o",
                    &out,
                    "-j",
                    "MASQUERADE",
                ];
                if nat == Nat::Symmetric {
                    rule.push("--random");
                }
                self.exec_ok(&router, &rule);
                // Unsolicited datagrams are dropped before conntrack confirms
                // an entry for them, as a home router does: such an entry
                // would take the port a later outgoing mapping wants, and
                // MASQUERADE would then pick another (no longer a cone).
                self.exec_ok(
                    &router,
                    &[
                        "iptables",
                        "-A",
                        "INPUT",
                        "-i",
                        &out,
                        "-m",
                        "conntrack",
                        "--ctstate",
                        "NEW",
                        "-j",
                        "DROP",
                    ],
                );
            }
        }
        host
    }

    fn spawn_in(&mut self, ns: &str, conf: Option<&Path>, args: &[&str]) -> usize {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]);
        if let Some(conf) = conf {
            cmd.arg("env").arg(format!("BRUME_CONF={}", conf.display()));
        }
        cmd.arg(BIN).args(args);
        self.procs.push(spawn_all(&mut cmd));
        self.procs.len() - 1
    }

    /// coturn and the hub (with its STUN server) in the public namespace;
    /// the hub's URL.
    fn servers(&mut self) -> (String, PathBuf) {
        let public = self.ns("pub");
        let conf = self.dir.join("turnserver.conf");
        std::fs::write(
            &conf,
            format!(
                "listening-ip={SERVER}\nlistening-port=3479\nrelay-ip={SERVER}\n\
                 min-port=49152\nmax-port=65535\nrealm=brume.lab\nuse-auth-secret\n\
                 static-auth-secret={SECRET}\nno-tls\nno-dtls\nno-tcp\nno-cli\n\
                 pidfile={}\nlog-file=stdout\nsimple-log\n",
                self.dir.join("turn.pid").display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &public, "turnserver", "-c"])
            .arg(&conf);
        self.procs.push(spawn_all(&mut cmd));
        let secret = self.dir.join("turn.secret");
        std::fs::write(&secret, SECRET).unwrap();
        let data = self.dir.join("hub");
        let (d, s) = (data.display().to_string(), secret.display().to_string());
        let hub = self.spawn_in(
            &public,
            None,
            &[
                "serve",
                "--listen",
                &format!("{SERVER}:7770"),
                "--data",
                &d,
                "--stun-listen",
                &format!("{SERVER}:3478"),
                "--turn-server",
                &format!("{SERVER}:3479"),
                "--turn-secret-file",
                &s,
            ],
        );
        self.procs[hub].wait_line("answering STUN");
        (format!("ws://{SERVER}:7770"), data)
    }

    /// A user's config, with the hub's STUN server in it.
    fn user(&self, url: &str, data: &Path, name: &str) -> PathBuf {
        let conf = self.dir.join(format!("{name}.conf"));
        let out = run_stdin(
            Command::new(BIN)
                .args([
                    "user",
                    "add",
                    name,
                    "--password-stdin",
                    "--url",
                    url,
                    "--data",
                ])
                .arg(data)
                .arg("--out")
                .arg(&conf),
            "pw",
        );
        assert!(out.status.success(), "{out:?}");
        let mut file: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&conf).unwrap()).unwrap();
        file["stun"] = format!("{SERVER}:3478").into();
        std::fs::write(&conf, file.to_string()).unwrap();
        conf
    }
}

#[test]
fn every_pair_connects_by_name_and_transfers_on_the_path_its_nats_allow() {
    let Some(mut lab) = Lab::new('m') else { return };
    let (url, data) = lab.servers();
    let hosts = [
        ("open", Nat::None),
        ("cone1", Nat::Cone),
        ("cone2", Nat::Cone),
        ("sym1", Nat::Symmetric),
        ("sym2", Nat::Symmetric),
        ("open2", Nat::None),
    ];
    let mut confs = Vec::new();
    for (k, (name, nat)) in hosts.iter().enumerate() {
        let ns = lab.host(k as u8 + 1, *nat);
        let conf = lab.user(&url, &data, name);
        let inbox = lab.dir.join(format!("{name}-inbox"));
        std::fs::create_dir_all(&inbox).unwrap();
        let recv = lab.spawn_in(
            &ns,
            Some(&conf),
            &["recv", "--yes", "--dir", &inbox.display().to_string()],
        );
        lab.procs[recv].wait_line("ready as");
        confs.push((ns, conf));
    }
    // (caller, callee, the path the NATs leave).
    // Every combination of kinds.
    let pairs = [
        (5, 0, "direct"),  // open ↔ open
        (1, 0, "direct"),  // cone → open
        (1, 2, "direct"),  // cone ↔ cone: hole punching
        (3, 0, "direct"),  // symmetric → open
        (3, 1, "relayed"), // symmetric ↔ port-restricted
        (3, 4, "relayed"), // symmetric ↔ symmetric
    ];
    let mut failures = Vec::new();
    for (a, b, want) in pairs {
        let (ns, conf) = confs[a].clone();
        let callee = hosts[b].0;
        // The channel may open on the relay and move to the direct pair
        // once hole punching's checks succeed, so the path that counts is
        // the last one `ping` prints, over a few seconds of round trips.
        let p = lab.spawn_in(
            &ns,
            Some(&conf),
            &["ping", callee, "--count", "12", "--interval", "0.25"],
        );
        let code = lab.procs[p].wait_exit();
        let seen = lab.procs[p].rest_of_output();
        let paths: Vec<&str> = seen
            .iter()
            .filter_map(|l| l.split_once(": path ").map(|(_, p)| p))
            .collect();
        let path = paths.last().map(|p| p.to_string());
        let direct_where_it_cannot_be = want == "relayed" && paths.contains(&"direct");
        if code != 0 || path.as_deref() != Some(want) || direct_where_it_cannot_be {
            failures.push(format!(
                "{} → {callee}: exit {code}, path {path:?}, expected {want}; {seen:?}",
                hosts[a].0
            ));
            continue;
        }
        // And a file, bit-exact, over the same kind of path.
        let name = format!("from-{}.bin", hosts[a].0);
        let file = lab.dir.join(&name);
        let bytes: Vec<u8> = (0..1_000_003u32)
            .map(|i| (i * 7 + a as u32) as u8)
            .collect();
        std::fs::write(&file, &bytes).unwrap();
        let send = lab.spawn_in(
            &ns,
            Some(&conf),
            &["send", callee, &file.display().to_string()],
        );
        let code = lab.procs[send].wait_exit();
        let got = std::fs::read(lab.dir.join(format!("{callee}-inbox")).join(&name));
        if code != 0 || got.as_ref().ok() != Some(&bytes) {
            let seen = lab.procs[send].rest_of_output();
            failures.push(format!(
                "{} → {callee}: send exit {code}; {seen:?}",
                hosts[a].0
            ));
        }
    }
    if !failures.is_empty() {
        let turn: Vec<String> = lab.procs[0].lines.try_iter().collect();
        panic!("{failures:#?}\ncoturn: {turn:#?}");
    }
}

#[test]
fn with_the_relay_down_two_symmetric_nats_get_a_clear_error() {
    let Some(mut lab) = Lab::new('d') else { return };
    let (url, data) = lab.servers();
    // coturn goes away before anyone allocates; the hub still hands out
    // credentials for it.
    lab.procs.remove(0);
    let mut confs = Vec::new();
    for (k, name) in ["sym1", "sym2"].iter().enumerate() {
        let ns = lab.host(k as u8 + 1, Nat::Symmetric);
        let conf = lab.user(&url, &data, name);
        let inbox = lab.dir.join(format!("{name}-inbox"));
        std::fs::create_dir_all(&inbox).unwrap();
        let recv = lab.spawn_in(
            &ns,
            Some(&conf),
            &["recv", "--yes", "--dir", &inbox.display().to_string()],
        );
        lab.procs[recv].wait_line("ready as");
        confs.push((ns, conf));
    }
    let (ns, conf) = confs[0].clone();
    let p = lab.spawn_in(&ns, Some(&conf), &["ping", "sym2", "--count", "1"]);
    let line = lab.procs[p].wait_line("cannot connect to sym2");
    assert!(
        line.contains("no direct path, and no relay: TURN server 198.18.0.1:3479"),
        "{line}"
    );
    assert_eq!(lab.procs[p].wait_exit(), 1);
}

/// Bytes written so far anywhere under `dir`.
fn bytes_under(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

#[test]
fn a_direct_path_cut_mid_transfer_falls_back_to_the_relay_and_comes_back() {
    let Some(mut lab) = Lab::new('c') else { return };
    let (url, data) = lab.servers();
    let open = lab.host(1, Nat::None);
    let cone = lab.host(2, Nat::Cone);
    // A slower link, so that the transfer outlasts the cut.
    let out = format!("{}n2a", lab.prefix);
    let _ = run(&[
        "ip",
        "netns",
        "exec",
        &lab.ns("n2"),
        "tc",
        "qdisc",
        "add",
        "dev",
        &out,
        "root",
        "tbf",
        "rate",
        "100mbit",
        "burst",
        "64kb",
        "latency",
        "50ms",
    ]);
    let open_conf = lab.user(&url, &data, "open");
    let cone_conf = lab.user(&url, &data, "cone");
    let inbox = lab.dir.join("open-inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let inbox_arg = inbox.display().to_string();
    let recv = lab.spawn_in(
        &open,
        Some(&open_conf),
        &["recv", "--yes", "--dir", &inbox_arg],
    );
    lab.procs[recv].wait_line("ready as");

    let file = lab.dir.join("big.bin");
    let bytes: Vec<u8> = (0..64u32 << 20).map(|i| (i ^ (i >> 11)) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let send = lab.spawn_in(
        &cone,
        Some(&cone_conf),
        &["-v", "send", "open", &file.display().to_string()],
    );
    lab.procs[send].wait_line("path=direct");
    // Polling the receiver's disk: nothing to block on.
    while bytes_under(&inbox) < 4 << 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let public = lab.ns("pub");
    let cut = |op: &str| {
        for (from, to) in [
            ("198.18.1.0/24", "198.18.2.0/24"),
            ("198.18.2.0/24", "198.18.1.0/24"),
        ] {
            run(&[
                "ip", "netns", "exec", &public, "iptables", op, "FORWARD", "-s", from, "-d", to,
                "-j", "DROP",
            ])
            .unwrap();
        }
    };
    cut("-I");
    lab.procs[send].wait_line("path=relayed");
    cut("-D");
    lab.procs[send].wait_line("path=direct");
    assert_eq!(lab.procs[send].wait_exit(), 0, "{:?}", lab.procs[send].seen);
    assert!(
        std::fs::read(inbox.join("big.bin")).unwrap() == bytes,
        "content differs"
    );
}

/// Figures by hand: `cargo test -p brume-mio --test e2e_nat -- --ignored
/// --nocapture`. Per NAT pair, the time to an open channel (from `brume
/// ping`) and the throughput of a 32 MiB `brume send`; the direct
/// cone→open pair once more with the direct path dropped, so the relay
/// carries it on the same links.
#[test]
#[ignore = "figures, run by hand"]
fn nat_lab_figures() {
    let Some(mut lab) = Lab::new('f') else { return };
    let (url, data) = lab.servers();
    let hosts = [
        ("open", Nat::None),
        ("cone1", Nat::Cone),
        ("cone2", Nat::Cone),
        ("sym1", Nat::Symmetric),
        ("sym2", Nat::Symmetric),
    ];
    let mut confs = Vec::new();
    for (k, (name, nat)) in hosts.iter().enumerate() {
        let ns = lab.host(k as u8 + 1, *nat);
        let conf = lab.user(&url, &data, name);
        let inbox = lab.dir.join(format!("{name}-inbox"));
        std::fs::create_dir_all(&inbox).unwrap();
        let inbox = inbox.display().to_string();
        let recv = lab.spawn_in(&ns, Some(&conf), &["recv", "--yes", "--dir", &inbox]);
        lab.procs[recv].wait_line("ready as");
        confs.push((ns, conf));
    }
    let file = lab.dir.join("figures.bin");
    let size = 32u64 << 20;
    let bytes: Vec<u8> = (0..size as u32).map(|i| (i ^ (i >> 9)) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let public = lab.ns("pub");
    let drop_direct = |op: &str| {
        for (from, to) in [
            ("198.18.1.0/24", "198.18.2.0/24"),
            ("198.18.2.0/24", "198.18.1.0/24"),
        ] {
            run(&[
                "ip", "netns", "exec", &public, "iptables", op, "FORWARD", "-s", from, "-d", to,
                "-j", "DROP",
            ])
            .unwrap();
        }
    };
    println!("| pair | path | channel open | 32 MiB send |");
    println!("| --- | --- | --- | --- |");
    for (a, b, forced_relay) in [
        (1, 0, false),
        (1, 0, true),
        (1, 2, false),
        (3, 0, false),
        (3, 1, false),
        (3, 4, false),
    ] {
        if forced_relay {
            drop_direct("-I");
        }
        let (ns, conf) = confs[a].clone();
        let callee = hosts[b].0;
        let p = lab.spawn_in(&ns, Some(&conf), &["ping", callee, "--count", "1"]);
        let open = lab.procs[p].wait_line("channel open in");
        let path = lab.procs[p].wait_line(": path ");
        lab.procs[p].wait_exit();
        let open_ms = open
            .split("open in ")
            .nth(1)
            .unwrap_or("?")
            .split(" ms")
            .next()
            .unwrap_or("?")
            .to_owned();
        let path = path.rsplit(' ').next().unwrap_or("?").to_owned();
        let start = std::time::Instant::now();
        let f = file.display().to_string();
        let s = lab.spawn_in(&ns, Some(&conf), &["send", callee, &f]);
        assert_eq!(lab.procs[s].wait_exit(), 0);
        let secs = start.elapsed().as_secs_f64();
        println!(
            "| {} → {callee} | {path} | {open_ms} ms | {:.1} MB/s |",
            hosts[a].0,
            size as f64 / secs / 1e6
        );
        let _ = std::fs::remove_file(lab.dir.join(format!("{callee}-inbox")).join("figures.bin"));
        if forced_relay {
            drop_direct("-D");
        }
    }
}
