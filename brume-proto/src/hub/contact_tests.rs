//! Invitations, contacts and the `contacts` policy, each run under the audit.

use std::time::Duration;

use super::tests::{Bench, codes, key, offer, u};
use super::*;

fn contacts_hub() -> Bench {
    let mut config = HubConfig::new(key());
    config.policy = CallPolicy::Contacts;
    config.invitation_lifetime = Duration::from_secs(3600);
    config.instance = 7;
    Bench::with_config(config)
}

/// `invite` from `c`; the token the hub answered with.
fn invite(b: &mut Bench, c: u64, alias: &str) -> String {
    let out = b.send(c, &format!(r#"{{"type":"invite","alias":"{alias}"}}"#));
    match &out[..] {
        [
            (
                conn,
                HubMsg::Invitation {
                    token, alias: a, ..
                },
            ),
        ] if *conn == ConnId(c) && a == alias => token.clone(),
        _ => panic!("no invitation: {out:?}"),
    }
}

fn claim(b: &mut Bench, c: u64, token: &str, alias: &str) -> Vec<(ConnId, HubMsg)> {
    b.send(
        c,
        &format!(r#"{{"type":"claim","token":"{token}","alias":"{alias}"}}"#),
    )
}

fn contact(user: &str, alias: &str) -> HubMsg {
    HubMsg::Contact {
        user: u(user),
        alias: alias.into(),
    }
}

fn list(b: &mut Bench, c: u64) -> Vec<(String, String)> {
    match &b.send(c, r#"{"type":"contacts"}"#)[..] {
        [(_, HubMsg::Contacts { contacts })] => contacts
            .iter()
            .map(|e| (e.user.to_string(), e.alias.clone()))
            .collect(),
        other => panic!("no contacts: {other:?}"),
    }
}

#[test]
fn a_claimed_invitation_makes_two_contacts_each_under_their_own_alias() {
    let mut b = contacts_hub();
    b.login(1, "alice");
    b.login(2, "bob");
    b.login(3, "alice"); // a second session of alice, on the same device: replaces 1
    let token = invite(&mut b, 3, "Bobby");
    let out = claim(&mut b, 2, &token, "Al");
    assert_eq!(
        out,
        [
            (ConnId(3), contact("bob", "Bobby")),
            (ConnId(2), contact("alice", "Al"))
        ]
    );
    assert_eq!(list(&mut b, 3), [("bob".into(), "Bobby".into())]);
    assert_eq!(list(&mut b, 2), [("alice".into(), "Al".into())]);
    // The driver is asked to keep the claim and both directions.
    assert!(
        matches!(&b.persisted[..], [
        HubOutput::InvitationClaimed { id, .. },
        HubOutput::ContactChanged { user: a, contact: c1, alias: x },
        HubOutput::ContactChanged { user: c2, contact: a2, alias: y },
    ] if id == "0000000000000007-1" && a == &u("alice") && c1 == &u("bob") && x == "Bobby"
        && c2 == &u("bob") && a2 == &u("alice") && y == "Al"),
        "{:?}",
        b.persisted
    );
}

#[test]
fn an_invitation_is_good_once_and_until_it_expires() {
    let mut b = contacts_hub();
    b.login(1, "alice");
    b.login(2, "bob");
    b.login(3, "carol");
    let token = invite(&mut b, 1, "Bob");
    assert_eq!(codes(&claim(&mut b, 2, &token, "Alice")), []);
    // Twice, by the same person or another: refused, and nothing changes.
    assert_eq!(
        codes(&claim(&mut b, 2, &token, "Alice")),
        [(2, ErrorCode::InviteUsed)]
    );
    assert_eq!(
        codes(&claim(&mut b, 3, &token, "Alice")),
        [(3, ErrorCode::InviteUsed)]
    );
    assert_eq!(list(&mut b, 3), []);
    // After its lifetime: expired.
    let late = invite(&mut b, 1, "Carol");
    b.advance(Duration::from_secs(3601));
    b.login(4, "carol");
    assert_eq!(
        codes(&claim(&mut b, 4, &late, "Alice")),
        [(4, ErrorCode::TokenExpired)]
    );
    // Forged, missing, or not an invitation at all.
    let access = b.token("alice", crate::token::TokenKind::Access, 600);
    assert_eq!(
        codes(&claim(&mut b, 4, &access, "A")),
        [(4, ErrorCode::TokenInvalid)]
    );
    let forged = format!("{}x", &late[..late.len() - 1]);
    assert_eq!(
        codes(&claim(&mut b, 4, &forged, "A")),
        [(4, ErrorCode::TokenInvalid)]
    );
    let out = b.send(4, r#"{"type":"claim","alias":"A"}"#);
    assert_eq!(codes(&out), [(4, ErrorCode::TokenMissing)]);
    // One's own invitation, and aliases that disguise, are refused.
    b.login(5, "alice");
    let own = invite(&mut b, 5, "Someone");
    assert_eq!(
        codes(&claim(&mut b, 5, &own, "Me")),
        [(5, ErrorCode::BadMessage)]
    );
    let out = b.send(5, r#"{"type":"invite","alias":"\u202eboB"}"#);
    assert_eq!(codes(&out), [(5, ErrorCode::BadMessage)]);
    assert_eq!(
        codes(&claim(&mut b, 4, &own, "")),
        [(4, ErrorCode::BadMessage)]
    );
}

#[test]
fn a_claim_remembered_by_the_driver_stays_spent_after_a_restart() {
    let mut b = contacts_hub();
    b.login(1, "alice");
    let token = invite(&mut b, 1, "Bob");
    let (id, expires_at) =
        match crate::token::TokenKey::decode::<invite::InvitationClaims>(&key(), Some(&token)) {
            Ok(c) => (c.jti, c.exp),
            Err(e) => panic!("{e}"),
        };
    let now = b.now;
    b.hub
        .admin(|h| h.add_claimed_invitation(now, id, expires_at))
        .unwrap();
    b.login(2, "bob");
    assert_eq!(
        codes(&claim(&mut b, 2, &token, "Alice")),
        [(2, ErrorCode::InviteUsed)]
    );
}

#[test]
fn under_the_contacts_policy_only_contacts_and_group_mates_call_or_watch() {
    let mut b = contacts_hub();
    b.login(1, "alice");
    b.login(2, "bob");
    b.login(3, "carol");
    b.login(4, "dave");
    // Strangers: no call, no presence.
    assert_eq!(
        codes(&b.send(2, &offer("a1", "alice"))),
        [(2, ErrorCode::NotContact)]
    );
    let out = b.send(2, r#"{"type":"subscribe","users":["alice"]}"#);
    assert_eq!(codes(&out), [(2, ErrorCode::NotContact)]);
    assert!(!b.hub.hub.watches(ConnId(2), &u("alice")));
    // Contacts: both.
    let token = invite(&mut b, 1, "Bob");
    claim(&mut b, 2, &token, "Alice");
    let out = b.send(2, &offer("a2", "alice"));
    assert!(
        out.iter()
            .any(|(c, m)| *c == ConnId(1) && matches!(m, HubMsg::Offer { .. })),
        "{out:?}"
    );
    let out = b.send(2, r#"{"type":"subscribe","users":["alice"]}"#);
    assert_eq!(codes(&out), []);
    assert!(b.hub.hub.watches(ConnId(2), &u("alice")));
    // Mates of a group: calls too, without being contacts.
    b.send(3, r#"{"type":"members","group":"band","members":["dave"]}"#);
    let out = b.send(4, &offer("a3", "carol"));
    assert!(
        out.iter()
            .any(|(c, m)| *c == ConnId(3) && matches!(m, HubMsg::Offer { .. })),
        "{out:?}"
    );
    // The contact of a contact is still a stranger.
    assert_eq!(
        codes(&b.send(4, &offer("a4", "alice"))),
        [(4, ErrorCode::NotContact)]
    );
}

#[test]
fn under_the_open_policy_anyone_calls_and_contacts_still_work() {
    let mut b = Bench::new();
    b.login(1, "alice");
    b.login(2, "bob");
    let out = b.send(2, &offer("a1", "alice"));
    assert!(
        out.iter()
            .any(|(c, m)| *c == ConnId(1) && matches!(m, HubMsg::Offer { .. })),
        "{out:?}"
    );
    let token = invite(&mut b, 1, "Bob");
    assert_eq!(codes(&claim(&mut b, 2, &token, "Alice")), []);
    assert_eq!(list(&mut b, 1), [("bob".into(), "Bob".into())]);
}

#[test]
fn removing_a_user_voids_their_contacts_and_invitations() {
    let mut b = contacts_hub();
    b.login(1, "alice");
    b.login(2, "bob");
    let first = invite(&mut b, 1, "Bob");
    let second = invite(&mut b, 1, "Carol");
    claim(&mut b, 2, &first, "Alice");
    let now = b.now;
    b.hub.remove_user(now, &u("alice")).unwrap();
    assert_eq!(list(&mut b, 2), []);
    // Made again, at a new token generation as the user store does: she
    // is not the one who invited, and her old invitations are void.
    b.hub.admin(|h| h.add_user((u("alice"), 1))).unwrap();
    b.login(3, "carol");
    let out = claim(&mut b, 3, &second, "Alice");
    assert_eq!(codes(&out), [(3, ErrorCode::TokenInvalid)], "{out:?}");
    assert_eq!(list(&mut b, 3), []);
}
