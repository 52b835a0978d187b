//! A hostile peer drives the receiving side of the transfer machine with
//! random sequences of offers, hashes, data, cancels and junk, on several
//! transfers at once, while the application accepts, rejects and cancels
//! whatever it was offered, whenever it gets round to it. The application's
//! calls never fail for anything the peer did, and a well-behaved peer's
//! transfer beside it arrives whole.

use std::collections::BTreeSet;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use brume_proto::endpoint::{Certificate, EndpointConfig};
use brume_proto::node::{Node, NodeConfig, NodeEvent};
use brume_proto::transfer::wire::{Control, Wire};
use brume_proto::transfer::{
    Entry, EntryKind, Hash, TransferEvent, TransferKey, TransferState, block_size, content_hash,
    hash_block,
};
use brume_tests::storage::MemStorage;
use proptest::prelude::*;

fn cert() -> Certificate {
    static CERT: OnceLock<Certificate> = OnceLock::new();
    CERT.get_or_init(|| Certificate::generate().expect("a certificate"))
        .clone()
}

/// What the hostile peer, or the application, does next.
#[derive(Debug, Clone)]
enum Step {
    /// The peer opens transfer `t` (0..4).
    Open(u8),
    /// A consistent offer on transfer `t` of files of these sizes.
    Offer(u8, Vec<u16>),
    /// The true hashes of file `f` of transfer `t`'s offer.
    Hashes(u8, u8),
    /// Hashes that do not add up to the content hash.
    BadHashes(u8, u8),
    /// Hashes starting past where the list stands.
    LateHashes(u8, u8),
    /// The bytes of file `f`, possibly with one bit flipped.
    Data(u8, u8, bool),
    /// The peer cancels transfer `t`.
    Cancel(u8),
    /// Junk on transfer `t`'s channel.
    Raw(u8, Vec<u8>),
    /// The application accepts the n-th offer it has seen.
    Accept(u8),
    /// The application rejects it.
    Reject(u8),
    /// The application cancels it.
    AppCancel(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => (0u8..4).prop_map(Step::Open),
        3 => (0u8..4, proptest::collection::vec(0u16..3000, 1..4)).prop_map(|(t, s)| Step::Offer(t, s)),
        3 => (0u8..4, 0u8..4).prop_map(|(t, f)| Step::Hashes(t, f)),
        1 => (0u8..4, 0u8..4).prop_map(|(t, f)| Step::BadHashes(t, f)),
        1 => (0u8..4, 0u8..4).prop_map(|(t, f)| Step::LateHashes(t, f)),
        2 => (0u8..4, 0u8..4, any::<bool>()).prop_map(|(t, f, x)| Step::Data(t, f, x)),
        1 => (0u8..4).prop_map(Step::Cancel),
        1 => (0u8..4, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(t, b)| Step::Raw(t, b)),
        2 => (0u8..6).prop_map(Step::Accept),
        1 => (0u8..6).prop_map(Step::Reject),
        1 => (0u8..6).prop_map(Step::AppCancel),
    ]
}

/// A file as its sender describes it.
fn describe(path: &str, data: &[u8]) -> (Entry, Vec<Hash>) {
    let block = block_size(data.len() as u64);
    let hashes: Vec<Hash> = data.chunks(block as usize).map(hash_block).collect();
    let root = content_hash(data.len() as u64, block, &hashes);
    let entry = Entry {
        path: path.into(),
        kind: EntryKind::File,
        size: data.len() as u64,
        mtime: 0,
        mime: None,
        hash: Some(root.iter().map(|b| format!("{b:02x}")).collect()),
        executable: false,
    };
    (entry, hashes)
}

fn bytes(t: u8, f: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i * 31 + f * 7 + t as usize) as u8)
        .collect()
}

struct Harness {
    now: Instant,
    t: Node,
    disk: MemStorage,
    /// Every transfer the application was offered, in order.
    offered: Vec<TransferKey>,
    /// What the application was told.
    events: Vec<TransferEvent>,
}

impl Harness {
    /// Runs storage and collects events until nothing is left.
    fn drain(&mut self) {
        loop {
            let mut busy = false;
            while let Some(action) = self.t.poll_storage() {
                busy = true;
                let result = self.disk.execute(&action);
                self.t.handle_storage(self.now, action.req(), result);
            }
            while let Some(e) = self.t.poll_event() {
                busy = true;
                if let NodeEvent::Transfer(e) = e {
                    if let TransferEvent::Offered { key, .. } = &e {
                        self.offered.push(key.clone());
                    }
                    self.events.push(e);
                }
            }
            // Nothing is connected: what the node would send goes nowhere.
            while self.t.poll_transmit().is_some() || self.t.poll_hub().is_some() {}
            if !busy {
                return;
            }
        }
    }

    fn message(&mut self, key: &TransferKey, msg: &Wire) {
        self.t.fuzz_message(self.now, key, &msg.encode());
    }
}

fn run(steps: &[Step]) -> Result<(), String> {
    let now = brume_tests::origin();
    let mut h = Harness {
        now,
        t: Node::new(
            NodeConfig::new(EndpointConfig::new("token".into(), cert(), 1)),
            now,
        ),
        disk: MemStorage::new(),
        offered: Vec::new(),
        events: Vec::new(),
    };
    let mallory = brume_tests::sim::World::peer("mallory");
    let alice = brume_tests::sim::World::peer("alice");
    let keys: Vec<TransferKey> = (0..4)
        .map(|i| TransferKey {
            peer: mallory.clone(),
            id: 100 + i,
            outgoing: false,
        })
        .collect();
    let mut opened = BTreeSet::new();
    let mut decided = BTreeSet::new();
    let mut offers: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 4];

    // A well-behaved peer's transfer, offered and accepted before the attack.
    let good_key = h.t.fuzz_receiver(&alice, 7);
    let good = bytes(99, 0, 5000);
    let (entry, hashes) = describe("good.bin", &good);
    h.message(
        &good_key,
        &Wire::Control(Control::Offer {
            name: "good.bin".into(),
            total: good.len() as u64,
            count: Some(1),
            entries: vec![entry],
        }),
    );
    h.message(
        &good_key,
        &Wire::Hashes {
            file: 0,
            start: 0,
            hashes,
        },
    );
    h.drain();
    h.t.accept_transfer(now, &good_key, "inbox".into())
        .map_err(|e| format!("accepting the good transfer: {e}"))?;
    h.drain();

    for step in steps {
        match step {
            Step::Open(t) => {
                if opened.insert(*t) {
                    h.t.fuzz_receiver(&mallory, keys[*t as usize].id);
                }
            }
            Step::Offer(t, sizes) => {
                let files: Vec<Vec<u8>> = sizes
                    .iter()
                    .enumerate()
                    .map(|(f, len)| bytes(*t, f, *len as usize))
                    .collect();
                let mut entries = vec![Entry::dir("d")];
                for (f, data) in files.iter().enumerate() {
                    entries.push(describe(&format!("d/f{f}"), data).0);
                }
                let total = files.iter().map(|d| d.len() as u64).sum();
                offers[*t as usize] = files;
                let count = Some(entries.len() as u64);
                h.message(
                    &keys[*t as usize],
                    &Wire::Control(Control::Offer {
                        name: "d".into(),
                        total,
                        count,
                        entries,
                    }),
                );
            }
            Step::Hashes(t, f) | Step::BadHashes(t, f) | Step::LateHashes(t, f) => {
                let Some(data) = offers[*t as usize].get(*f as usize) else {
                    continue;
                };
                let (_, mut hashes) = describe("x", data);
                let mut start = 0;
                match step {
                    Step::BadHashes(..) => hashes = vec![[7; 32]; hashes.len().max(1)],
                    Step::LateHashes(..) => start = 1,
                    _ => {}
                }
                h.message(
                    &keys[*t as usize],
                    &Wire::Hashes {
                        file: *f as u32 + 1,
                        start,
                        hashes,
                    },
                );
            }
            Step::Data(t, f, flip) => {
                let Some(data) = offers[*t as usize].get(*f as usize) else {
                    continue;
                };
                let mut data = data.clone();
                if *flip && !data.is_empty() {
                    data[0] ^= 1;
                }
                h.message(
                    &keys[*t as usize],
                    &Wire::Data {
                        file: *f as u32 + 1,
                        offset: 0,
                        bytes: data.into(),
                    },
                );
            }
            Step::Cancel(t) => h.message(
                &keys[*t as usize],
                &Wire::Control(Control::Cancel {
                    reason: "bye".into(),
                }),
            ),
            Step::Raw(t, b) => h.t.fuzz_message(now, &keys[*t as usize], b),
            Step::Accept(n) | Step::Reject(n) | Step::AppCancel(n) => {
                let mallorys: Vec<TransferKey> = h
                    .offered
                    .iter()
                    .filter(|k| k.peer == mallory)
                    .cloned()
                    .collect();
                let Some(key) = mallorys.get(*n as usize) else {
                    continue;
                };
                // The application decides once about each offer, as soon
                // as it reads it, as `brume recv` does: what else it was
                // told (a cancel by the peer, say) may still be unread.
                if !decided.insert(key.clone()) {
                    continue;
                }
                let r = match step {
                    Step::Accept(_) => h.t.accept_transfer(now, key, "inbox".into()),
                    Step::Reject(_) => h.t.reject_transfer(now, key, "no"),
                    _ => h.t.cancel_transfer(now, key, "no"),
                };
                if let Err(e) = r {
                    return Err(format!("the application's call on {key:?} failed: {e}"));
                }
            }
        }
        h.drain();
        h.now += Duration::from_millis(10);
    }
    // The good transfer was never touched: it is still waiting for its data.
    if h.t.transfer_state(&good_key) != Some(TransferState::Connected) {
        return Err(format!(
            "the good transfer is {:?}",
            h.t.transfer_state(&good_key)
        ));
    }
    let msg = Wire::Data {
        file: 0,
        offset: 0,
        bytes: good.clone().into(),
    };
    h.message(&good_key, &msg);
    h.drain();
    if h.disk.file("inbox", &["good.bin"]) != Some(&good) {
        return Err("the good transfer did not arrive whole".into());
    }
    Ok(())
}

/// The reported case: an offer whose hashes are refused, or that the peer
/// cancels, arrives in one go with its offer, before the application has
/// looked at its events. Accepting what it was offered must not fail.
#[test]
fn accepting_an_offer_the_peer_already_spoilt_is_no_error() {
    for spoil in [
        Step::BadHashes(0, 0),
        Step::LateHashes(0, 0),
        Step::Cancel(0),
    ] {
        let steps = [
            Step::Open(0),
            Step::Offer(0, vec![100, 2000]),
            Step::Hashes(0, 0),
            Step::Hashes(0, 1),
            spoil.clone(),
            Step::Accept(0),
            Step::Reject(0),
            Step::AppCancel(0),
        ];
        // Events are drained only after the spoiling message, as a driver
        // that handles a burst of datagrams does.
        run(&steps).unwrap_or_else(|e| panic!("{spoil:?}: {e}"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_hostile_peer_makes_the_application_fail(steps in proptest::collection::vec(step(), 1..40)) {
        if let Err(e) = run(&steps) {
            prop_assert!(false, "{}", e);
        }
    }
}
