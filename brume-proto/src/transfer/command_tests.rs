//! The transfers' side of the channel contract, against a scripted link:
//! what they ask of channels, and what they do with the answers; and how a
//! sender hashes what it offers through the storage.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::wire::{Control, Wire};
use super::*;
use crate::endpoint::{EndpointError, EndpointEvent};

/// A connection whose levels the test sets.
struct Link {
    room: usize,
    buffered: BTreeMap<ChannelId, usize>,
}

impl ChannelLevels for Link {
    fn is_open(&self, _: &Address) -> bool {
        true
    }
    fn max_message_size(&self, _: &Address) -> Option<usize> {
        Some(64 * 1024)
    }
    fn buffered_amount(&self, _: &Address, channel: ChannelId) -> Option<usize> {
        Some(self.buffered.get(&channel).copied().unwrap_or(0))
    }
    fn send_room(&self, _: &Address) -> usize {
        self.room
    }
}

/// A link with room for a megabyte and nothing buffered.
fn roomy() -> Link {
    Link {
        room: 1 << 20,
        buffered: BTreeMap::new(),
    }
}

const SIZE: u64 = 600_000;

fn content(offset: u64, len: u64) -> Vec<u8> {
    (offset..offset + len).map(|i| (i % 251) as u8).collect()
}

fn file(path: &str, size: u64) -> SourceEntry {
    SourceEntry {
        path: path.into(),
        kind: EntryKind::File,
        size,
        mtime: 0,
        mime: None,
        executable: false,
        blocks: None,
    }
}

fn peer() -> Address {
    "bob/phone".parse().unwrap()
}

/// Answers every storage action the sender asked for, as a disk would.
fn serve_storage(t: &mut Transfers, now: Instant, link: &Link) {
    while let Some(action) = t.poll_action() {
        let result = match &action {
            StorageAction::ReadSource {
                offset,
                len,
                head_room,
                ..
            } => {
                let mut bytes = vec![0; *head_room];
                bytes.extend(content(*offset, (*len).min(SIZE - offset)));
                StorageResult::Data(bytes)
            }
            StorageAction::HashSource {
                offset, len, block, ..
            } => StorageResult::Hashes(hash_blocks(&content(*offset, *len), *block)),
            _ => StorageResult::Done,
        };
        t.handle_storage(now, link, action.req(), result);
    }
}

fn commands(t: &mut Transfers) -> Vec<ChannelCommand> {
    std::iter::from_fn(|| t.poll_command()).collect()
}

/// The data frames among `commands`, as (offset, bytes).
fn data_of(commands: &[ChannelCommand]) -> Vec<(u64, Vec<u8>)> {
    commands
        .iter()
        .filter_map(|c| match c {
            ChannelCommand::Write { data, .. } => match Wire::decode(data, usize::MAX) {
                Ok(Wire::Data { offset, bytes, .. }) => Some((offset, bytes.into_owned())),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// The one channel the sender asks for opens: returns it and what the
/// sender then writes (the offer).
fn open_the_channel(
    t: &mut Transfers,
    now: Instant,
    link: &Link,
) -> (ChannelId, Vec<ChannelCommand>) {
    let opens = commands(t);
    let [ChannelCommand::Open { label, .. }] = &opens[..] else {
        panic!("one open, not {opens:?}");
    };
    let channel = ChannelId::for_tests(3);
    t.handle_channel_opened(now, link, &peer(), label, Ok(channel));
    let open = EndpointEvent::ChannelOpen {
        peer: peer(),
        channel,
        label: label.clone(),
    };
    assert!(t.handle_event(now, link, &open));
    (channel, commands(t))
}

/// A sender with its channel open, offered, accepted and asked for the
/// whole file: returns the transfers, the channel and the link.
fn streaming(room: usize) -> (Transfers, Instant, ChannelId, Link) {
    let now = brume_tests::origin();
    let mut link = roomy();
    let mut t = Transfers::new(TransferConfig::new(7));
    t.send(now, &link, &peer(), vec![file("f.bin", SIZE)])
        .unwrap();
    serve_storage(&mut t, now, &link);
    let (channel, offer) = open_the_channel(&mut t, now, &link);
    assert!(
        offer
            .iter()
            .any(|c| matches!(c, ChannelCommand::Write { channel: ch, .. } if *ch == channel)),
        "the offer goes out on the transfer's channel: {offer:?}"
    );
    link.room = room;
    for control in [Control::Accept, Control::Get { file: 0, offset: 0 }] {
        let data = Wire::Control(control).encode();
        let heard = EndpointEvent::ChannelData {
            peer: peer(),
            channel,
            data,
        };
        assert!(t.handle_event(now, &link, &heard));
    }
    (t, now, channel, link)
}

#[test]
fn writes_stay_within_the_room_the_link_reports() {
    let (mut t, now, channel, mut link) = streaming(100_000);
    serve_storage(&mut t, now, &link);
    let first = commands(&mut t);
    let written: usize = first
        .iter()
        .map(|c| match c {
            ChannelCommand::Write { data, .. } => data.len(),
            _ => 0,
        })
        .sum();
    assert!(written > 0 && written <= 100_000, "wrote {written}");
    // Nothing more until the link drains and says so.
    serve_storage(&mut t, now, &link);
    assert!(data_of(&commands(&mut t)).is_empty());
    link.room = 1 << 20;
    link.buffered.insert(channel, 0);
    let low = EndpointEvent::ChannelBufferedLow {
        peer: peer(),
        channel,
    };
    t.handle_event(now + Duration::from_millis(5), &link, &low);
    serve_storage(&mut t, now, &link);
    let next = data_of(&commands(&mut t));
    let (offset, _) = next.first().expect("more data once there is room");
    assert_eq!(
        *offset,
        data_of(&first)
            .iter()
            .map(|(_, b)| b.len() as u64)
            .sum::<u64>()
    );
}

#[test]
fn a_sender_the_window_holds_back_wakes_when_its_next_chunk_fits() {
    let (mut t, now, channel, mut link) = streaming(1 << 20);
    let mut later = now;
    serve_storage(&mut t, later, &link);
    let mut batch = commands(&mut t);
    for round in 0..4 {
        let written: usize = batch
            .iter()
            .map(|c| match c {
                ChannelCommand::Write { data, .. } => data.len(),
                _ => 0,
            })
            .sum();
        assert!(written > 0, "round {round}: nothing written");
        let threshold = batch
            .iter()
            .rev()
            .find_map(|c| match c {
                ChannelCommand::SetBufferedLow { threshold, .. } => Some(*threshold),
                _ => None,
            })
            .expect("a sender held back asks to be woken");
        let held = link.buffered.get(&channel).copied().unwrap_or(0) + written;
        assert!(threshold < held, "round {round}: {threshold} of {held}");
        // Drained to the threshold, and woken: the next chunk goes at once.
        // (At 7/8 of what it held, a wake found the window still shut and
        // cost the connection a drain for nothing.)
        link.buffered.insert(channel, threshold);
        later += Duration::from_millis(1);
        let low = EndpointEvent::ChannelBufferedLow {
            peer: peer(),
            channel,
        };
        t.handle_event(later, &link, &low);
        batch = commands(&mut t);
        serve_storage(&mut t, later, &link);
        batch.extend(commands(&mut t));
        assert!(
            !data_of(&batch).is_empty(),
            "round {round}: woken at {threshold} of {held} and wrote nothing"
        );
    }
}

#[test]
fn refused_writes_go_out_again_whole_and_in_order() {
    let (mut t, now, channel, mut link) = streaming(1 << 20);
    let mut sent: Vec<(u64, Vec<u8>)> = Vec::new();
    let mut later = now;
    let mut refused = false;
    while sent.iter().map(|(_, b)| b.len() as u64).sum::<u64>() < SIZE {
        later += Duration::from_millis(1);
        serve_storage(&mut t, later, &link);
        let batch = commands(&mut t);
        let writes: Vec<(ChannelId, Vec<u8>)> = batch
            .iter()
            .filter_map(|c| match c {
                ChannelCommand::Write { channel, data, .. } => Some((*channel, data.clone())),
                _ => None,
            })
            .collect();
        if writes.len() >= 2 && !refused {
            refused = true;
            // The endpoint took none of these: they come back, in order.
            t.handle_unwritten(&link, &peer(), writes);
            assert!(
                commands(&mut t)
                    .iter()
                    .all(|c| !matches!(c, ChannelCommand::Write { .. })),
                "nothing is written again before the link drains"
            );
        } else {
            sent.extend(data_of(&batch));
        }
        link.buffered.insert(channel, 0);
        let low = EndpointEvent::ChannelBufferedLow {
            peer: peer(),
            channel,
        };
        t.handle_event(later, &link, &low);
        sent.extend(data_of(&commands(&mut t)));
        assert!(later < now + Duration::from_secs(60), "the file never went");
    }
    assert!(refused, "no batch was refused");
    let mut expected = 0;
    for (offset, bytes) in &sent {
        assert_eq!(*offset, expected, "frames out of order");
        assert_eq!(*bytes, content(*offset, bytes.len() as u64));
        expected += bytes.len() as u64;
    }
    assert_eq!(expected, SIZE);
}

#[test]
fn a_write_that_fails_outright_cancels_with_the_reason() {
    let (mut t, now, channel, link) = streaming(1 << 20);
    serve_storage(&mut t, now, &link);
    let _ = commands(&mut t);
    let error = EndpointError::Rtc("message too large".into());
    t.handle_write_failed(now, &link, &peer(), channel, 70_000, error);
    let after = commands(&mut t);
    assert!(
        after
            .iter()
            .any(|c| matches!(c, ChannelCommand::Close { channel: ch, .. } if *ch == channel)),
        "its channel closes: {after:?}"
    );
    let cancelled = std::iter::from_fn(|| t.poll_event()).find_map(|e| match e {
        TransferEvent::Cancelled { reason, .. } => Some(reason),
        _ => None,
    });
    assert_eq!(
        cancelled.as_deref(),
        Some("a message of 70000 bytes could not be sent: message too large")
    );
}

#[test]
fn a_channel_named_after_its_transfer_ended_is_closed() {
    let now = brume_tests::origin();
    let link = roomy();
    let mut t = Transfers::new(TransferConfig::new(7));
    let key = t.send(now, &link, &peer(), vec![file("empty", 0)]).unwrap();
    let opens = commands(&mut t);
    let [ChannelCommand::Open { label, .. }] = &opens[..] else {
        panic!("one open, not {opens:?}");
    };
    t.cancel(now, &link, &key, "changed my mind").unwrap();
    let channel = ChannelId::for_tests(9);
    t.handle_channel_opened(now, &link, &peer(), label, Ok(channel));
    assert_eq!(
        commands(&mut t),
        vec![ChannelCommand::Close {
            peer: peer(),
            channel
        }]
    );
}

/// A folder `d` of files of these sizes, as the application lists it.
fn folder(sizes: &[u64]) -> Vec<SourceEntry> {
    let mut entries = vec![SourceEntry {
        kind: EntryKind::Dir,
        size: 0,
        ..file("d", 0)
    }];
    entries.extend(
        sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| file(&format!("d/f{i}"), size)),
    );
    entries
}

/// The hashes `HashSource` asks for, as a disk holding `content` would answer.
fn hashes_of(action: &StorageAction) -> StorageResult {
    let StorageAction::HashSource {
        offset, len, block, ..
    } = action
    else {
        panic!("not a hash request: {action:?}");
    };
    StorageResult::Hashes(hash_blocks(&content(*offset, *len), *block))
}

#[test]
fn a_folder_is_hashed_with_requests_side_by_side_answered_in_any_order() {
    let now = brume_tests::origin();
    let link = roomy();
    // Twenty small files, an empty one, and one of two hash ranges.
    let mut sizes: Vec<u64> = (0..20).map(|i| 1000 + i * 7).collect();
    sizes.push(0);
    sizes.push(17 << 20);
    let mut t = Transfers::new(TransferConfig::new(7));
    let entries = folder(&sizes);
    t.send(now, &link, &peer(), entries).unwrap();
    let mut most_at_once = 0;
    let mut answered = 0;
    loop {
        let mut asked: Vec<StorageAction> = std::iter::from_fn(|| t.poll_action()).collect();
        if asked.is_empty() {
            break;
        }
        most_at_once = most_at_once.max(asked.len());
        // The newest first: the sender must not rely on order.
        asked.reverse();
        for action in asked {
            answered += 1;
            t.handle_storage(now, &link, action.req(), hashes_of(&action));
        }
    }
    assert_eq!(
        answered,
        20 + 2,
        "one request per small file, two for the large one, none for the empty one"
    );
    assert!(
        most_at_once >= 8,
        "requests in flight at once: {most_at_once}"
    );
    let (_, offer) = open_the_channel(&mut t, now, &link);
    let offered = offered_entries(offer);
    assert_eq!(offered.len(), sizes.len() + 1);
    for (entry, &size) in offered[1..].iter().zip(&sizes) {
        let block = block_size(size);
        let blocks = hash_blocks(&content(0, size), block);
        let want = to_hex(&content_hash(size, block, &blocks));
        assert_eq!(entry.hash.as_deref(), Some(want.as_str()), "{}", entry.path);
    }
}

#[test]
fn a_file_that_lost_a_block_since_it_was_listed_cancels_saying_so() {
    let now = brume_tests::origin();
    let link = roomy();
    let mut t = Transfers::new(TransferConfig::new(7));
    let key = t.send(now, &link, &peer(), folder(&[17 << 20])).unwrap();
    let asked: Vec<StorageAction> = std::iter::from_fn(|| t.poll_action()).collect();
    assert_eq!(asked.len(), 2, "{asked:?}");
    t.handle_storage(now, &link, asked[0].req(), hashes_of(&asked[0]));
    // The second range comes back a block short.
    let StorageResult::Hashes(mut short) = hashes_of(&asked[1]) else {
        unreachable!()
    };
    short.pop();
    t.handle_storage(now, &link, asked[1].req(), StorageResult::Hashes(short));
    let cancelled = std::iter::from_fn(|| t.poll_event()).find_map(|e| match e {
        TransferEvent::Cancelled { key: k, reason, .. } if k == key => Some(reason),
        _ => None,
    });
    assert_eq!(
        cancelled.as_deref(),
        Some("d/f0 changed while it was read"),
        "{cancelled:?}"
    );
    assert!(
        commands(&mut t)
            .iter()
            .all(|c| !matches!(c, ChannelCommand::Open { .. })),
        "nothing is offered"
    );
}

/// The offered entries among `commands`, offer and `entries` pieces alike.
fn offered_entries(commands: Vec<ChannelCommand>) -> Vec<Entry> {
    let mut offered = Vec::new();
    for c in commands {
        let ChannelCommand::Write { data, .. } = c else {
            continue;
        };
        match Wire::decode(&data, usize::MAX) {
            Ok(Wire::Control(Control::Offer { entries, .. }))
            | Ok(Wire::Control(Control::Entries { entries, .. })) => offered.extend(entries),
            _ => {}
        }
    }
    offered
}

#[test]
fn a_file_given_with_its_block_hashes_is_offered_without_being_read() {
    let now = brume_tests::origin();
    let link = roomy();
    // Of two files, the large one comes with its hashes (as a sync scan
    // has them); only the other is hashed.
    let big = 3 << 20;
    let known = hash_blocks(&content(0, big), block_size(big));
    let mut entries = folder(&[big, 1000]);
    entries[1].blocks = Some(known.clone());
    let mut t = Transfers::new(TransferConfig::new(7));
    t.send(now, &link, &peer(), entries).unwrap();
    let asked: Vec<StorageAction> = std::iter::from_fn(|| t.poll_action()).collect();
    let [only] = &asked[..] else {
        panic!("one hash request, for the small file: {asked:?}");
    };
    let StorageAction::HashSource { index, len, .. } = only else {
        panic!("not a hash request: {only:?}");
    };
    assert_eq!((*index, *len), (2, 1000));
    t.handle_storage(now, &link, only.req(), hashes_of(only));
    let (_, offer) = open_the_channel(&mut t, now, &link);
    let offered = offered_entries(offer);
    let want = to_hex(&content_hash(big, block_size(big), &known));
    assert_eq!(offered[1].hash.as_deref(), Some(want.as_str()));
}

#[test]
fn a_block_list_that_does_not_fit_the_size_is_refused() {
    let now = brume_tests::origin();
    let link = roomy();
    let mut entries = folder(&[3 << 20]);
    entries[1].blocks = Some(vec![[0; 32]; 2]);
    let mut t = Transfers::new(TransferConfig::new(7));
    let refused = t.send(now, &link, &peer(), entries).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "\"d/f0\" has 2 block hashes where its size needs 3"
    );
    assert!(t.poll_action().is_none(), "nothing is read");
}
