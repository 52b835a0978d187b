//! A second driver for brume-proto's `Node`: plain blocking std threads
//! instead of mio. A hub (the sans-IO `Hub`, joined to the nodes by
//! channels) and two nodes on real UDP sockets on loopback; alice sends bob
//! a file, which lands on disk through `FileStorage`.
//!
//! `cargo run -p brume-mio --example threads` (CI runs it).

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use brume_mio::files::{FileStorage, describe};
use brume_proto::endpoint::{Certificate, EndpointConfig, EndpointEvent};
use brume_proto::hub::{ConnId, Hub, HubConfig, HubInput, HubOutput};
use brume_proto::node::{Node, NodeConfig, NodeEvent, ToHub};
use brume_proto::signal::{Address, UserName};
use brume_proto::token::{TokenKey, TokenKind};
use brume_proto::transfer::{TransferEvent, TransferState};

/// What wakes a node's loop.
enum Input {
    Hub(String),
    Datagram(SocketAddr, Vec<u8>),
}

/// The hub's loop: frames from nodes in, frames to nodes out.
fn run_hub(mut hub: Hub, inbox: Receiver<(ConnId, String)>, nodes: Vec<Sender<Input>>) {
    for (i, _) in nodes.iter().enumerate() {
        hub.handle_input(Instant::now(), HubInput::Opened(ConnId(i as u64)));
    }
    loop {
        match inbox.recv_timeout(wait_for(hub.poll_timeout())) {
            Ok((conn, frame)) => {
                hub.handle_input(Instant::now(), HubInput::Frame(conn, frame.as_bytes()))
            }
            Err(RecvTimeoutError::Timeout) => hub.handle_input(Instant::now(), HubInput::Timeout),
            Err(RecvTimeoutError::Disconnected) => return,
        }
        while let Some(out) = hub.poll_output() {
            if let HubOutput::Send { conn, frame } = out {
                let _ = nodes[conn.0 as usize].send(Input::Hub(frame));
            }
        }
    }
}

/// How long to wait for input: until the machine's next timeout.
fn wait_for(timeout: Option<Instant>) -> Duration {
    timeout.map_or(Duration::from_secs(1), |at| {
        at.saturating_duration_since(Instant::now())
    })
}

/// One peer's loop: alice sends the file `send` to bob, who saves into
/// `inbox`. Returns once the transfer is over, with whether it finished.
fn run_node(
    mut node: Node,
    conn: ConnId,
    socket: UdpSocket,
    inputs: (Sender<Input>, Receiver<Input>),
    hub: Sender<(ConnId, String)>,
    send: Option<PathBuf>,
    inbox: PathBuf,
) -> bool {
    let (datagrams, inputs) = inputs;
    let local = socket.local_addr().expect("bound");
    let reader = socket.try_clone().expect("socket");
    // A reader thread turns the socket into inputs beside the hub's frames.
    std::thread::spawn(move || {
        let mut buf = vec![0; 2048];
        while let Ok((n, from)) = reader.recv_from(&mut buf) {
            let _ = datagrams.send(Input::Datagram(from, buf[..n].to_vec()));
        }
    });
    let bob = UserName::new("bob").expect("valid");
    let mut files = FileStorage::default();
    node.add_local_address(Instant::now(), local);
    node.handle_hub_opened(Instant::now());
    let mut finished = None;
    loop {
        // The contract's order: datagrams, hub frames, storage, events.
        while let Some(t) = node.poll_transmit() {
            let _ = socket.send_to(&t.contents, t.destination);
        }
        while let Some(ToHub::Frame(frame)) = node.poll_hub() {
            let _ = hub.send((conn, frame));
        }
        if let Some(finished) = finished {
            return finished; // once its last words have left
        }
        while let Some(action) = node.poll_storage() {
            let result = files.execute(&action);
            node.handle_storage(Instant::now(), action.req(), result);
        }
        let mut heard = false;
        while let Some(event) = node.poll_event() {
            heard = true;
            let now = Instant::now();
            match event {
                // Bob may not be online yet: the hub says when he is.
                NodeEvent::Endpoint(EndpointEvent::Ready { .. }) if send.is_some() => {
                    node.subscribe(now, vec![bob.clone()]).expect("subscribe");
                }
                NodeEvent::Endpoint(EndpointEvent::Presence { online: true, .. })
                    if node.peers().next().is_none() =>
                {
                    let to = Address::User(bob.clone());
                    node.connect(now, &to, None).expect("connect");
                }
                NodeEvent::Endpoint(EndpointEvent::Incoming { peer, .. }) => {
                    node.accept(now, &peer).expect("accept");
                }
                NodeEvent::Endpoint(EndpointEvent::PeerOpen { peer }) if send.is_some() => {
                    let path = send.as_deref().expect("a file");
                    let described = describe(path, false).expect("readable");
                    let key = node
                        .send_files(now, &peer, described.entries)
                        .expect("send");
                    files.add_source(key.id, described.paths);
                }
                NodeEvent::Transfer(TransferEvent::Offered { key, .. }) => {
                    let dir = inbox.to_string_lossy().into_owned();
                    node.accept_transfer(now, &key, dir).expect("accept");
                }
                NodeEvent::Transfer(TransferEvent::Cancelled { reason, .. }) => {
                    eprintln!("cancelled: {reason}");
                    finished = Some(false);
                }
                NodeEvent::Transfer(TransferEvent::State {
                    state: TransferState::Done,
                    ..
                }) => {
                    finished = Some(true);
                }
                _ => {}
            }
        }
        if heard {
            continue; // what the events made the node do goes out before we wait
        }
        match inputs.recv_timeout(wait_for(node.poll_timeout())) {
            Ok(Input::Hub(frame)) => node.handle_hub_frame(Instant::now(), frame.as_bytes()),
            Ok(Input::Datagram(from, bytes)) => {
                node.handle_datagram(Instant::now(), from, local, &bytes)
            }
            Err(RecvTimeoutError::Timeout) => node.handle_timeout(Instant::now()),
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}

fn main() {
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    let key = TokenKey::from_secret(&[7; 32]).expect("32 bytes");
    let names = ["alice", "bob"].map(|n| UserName::new(n).expect("valid"));
    let users = names.to_vec();
    let hub = Hub::new(HubConfig::new(key.clone()), users, Instant::now(), unix);
    let dir = std::env::temp_dir().join(format!("brume-threads-{}", std::process::id()));
    let (source, inbox) = (dir.join("hello.bin"), dir.join("inbox"));
    std::fs::create_dir_all(&inbox).expect("temp dir");
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(&source, &data).expect("write the source");
    let (to_hub, hub_inbox) = channel();
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..2).map(|_| channel::<Input>()).unzip();
    let hub_senders = senders.clone();
    std::thread::spawn(move || run_hub(hub, hub_inbox, hub_senders));
    let started = Instant::now();
    let peers: Vec<_> = receivers
        .into_iter()
        .enumerate()
        .map(|(i, inputs)| {
            let token = key.mint(&names[i], TokenKind::Access, unix, 3600);
            let cert = Certificate::generate();
            let config = EndpointConfig::new(token, cert.expect("a certificate"), i as u64 + 1);
            let node = Node::new(NodeConfig::new(config), Instant::now());
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
            let (inputs, hub) = ((senders[i].clone(), inputs), to_hub.clone());
            let (send, inbox) = ((i == 0).then(|| source.clone()), inbox.clone());
            std::thread::spawn(move || {
                run_node(node, ConnId(i as u64), socket, inputs, hub, send, inbox)
            })
        })
        .collect();
    let done: Vec<bool> = peers
        .into_iter()
        .map(|p| p.join().expect("no panic"))
        .collect();
    let received = std::fs::read(inbox.join("hello.bin")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(done.iter().all(|d| *d), "a side did not finish: {done:?}");
    assert!(received == data, "bob's copy differs from alice's file");
    println!("sent {} bytes in {:?}", data.len(), started.elapsed());
}
