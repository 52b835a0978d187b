//! Brume's RPC (BoneValue's modules): one side registers a module by name,
//! the other sends `request(peer, module, payload)` and hears one
//! [`EndpointEvent::RpcResponse`] for it: the handler's answer, its failure,
//! no such module, a timeout, or the peer gone. Requests are `rpc` control
//! messages on the main channel and answers `rpc_result`, matched by id, so
//! any number may be in flight on one connection. The endpoint answers
//! "no such module" itself; a registered module's requests reach the
//! application as [`EndpointEvent::RpcRequest`], answered with `respond`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::outbox::ControlKind;
use super::{Endpoint, EndpointError, EndpointEvent};
use crate::framing::{self, Data, Namespace};
use crate::signal::Address;

/// The control message of a request.
pub(super) const RPC: &str = "rpc";
/// The control message of an answer.
pub(super) const RPC_RESULT: &str = "rpc_result";
/// Requests of ours that may wait for answers from one peer at once.
pub const MAX_RPC_IN_FLIGHT: usize = 256;
/// The longest module name, in bytes.
pub const MAX_MODULE_LEN: usize = 128;

/// Why a request got no answer from its handler.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The peer has no module of that name.
    #[error("{0} has no module {1:?}")]
    NoSuchModule(Address, String),
    /// No answer within the request's timeout.
    #[error("no answer within the timeout")]
    Timeout,
    /// The peer's handler failed, in its own words.
    #[error("the handler failed: {0}")]
    HandlerFailed(String),
    /// The connection ended first.
    #[error("the connection ended before an answer came")]
    PeerGone,
}

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    id: u64,
    module: String,
    #[serde(default)]
    payload: Value,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Failure {
    NoModule,
    Failed,
}

#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    id: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ok: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<Failure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// Modules served here and requests of ours waiting for answers.
#[derive(Debug, Default)]
pub(crate) struct Rpc {
    modules: BTreeSet<String>,
    /// (peer, id) → (module, deadline).
    pending: BTreeMap<(Address, u64), (String, Instant)>,
    next_id: u64,
}

impl Rpc {
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|(_, at)| *at).min()
    }

    fn in_flight(&self, peer: &Address) -> usize {
        self.pending.keys().filter(|(p, _)| p == peer).count()
    }

    /// Takes every request to `peer`.
    fn take_peer(&mut self, peer: &Address) -> Vec<u64> {
        let ids: Vec<u64> = self
            .pending
            .keys()
            .filter(|(p, _)| p == peer)
            .map(|(_, id)| *id)
            .collect();
        for id in &ids {
            self.pending.remove(&(peer.clone(), *id));
        }
        ids
    }
}

impl Endpoint {
    /// Serves `module`: its requests come as [`EndpointEvent::RpcRequest`].
    pub fn register_module(&mut self, module: &str) {
        self.rpc.modules.insert(module.to_owned());
    }

    /// Stops serving `module`; its requests are then answered "no such module".
    pub fn unregister_module(&mut self, module: &str) {
        self.rpc.modules.remove(module);
    }

    /// Asks `peer`'s `module` with `payload`; returns the request's id, which
    /// the one [`EndpointEvent::RpcResponse`] for it carries.
    pub fn request(
        &mut self,
        now: Instant,
        peer: &Address,
        module: &str,
        payload: Value,
        timeout: Duration,
    ) -> Result<u64, EndpointError> {
        if module.is_empty() || module.len() > MAX_MODULE_LEN {
            return Err(EndpointError::WrongState(format!(
                "a module name is 1 to {MAX_MODULE_LEN} bytes"
            )));
        }
        self.open_peer(peer)?;
        if self.rpc.in_flight(peer) >= MAX_RPC_IN_FLIGHT {
            return Err(EndpointError::WrongState(format!(
                "{MAX_RPC_IN_FLIGHT} requests already wait for {peer}"
            )));
        }
        self.rpc.next_id += 1;
        let id = self.rpc.next_id;
        let request = Request {
            id,
            module: module.to_owned(),
            payload,
        };
        self.push_rpc(now, peer, ControlKind::Rpc, RPC, &request)?;
        self.rpc
            .pending
            .insert((peer.clone(), id), (module.to_owned(), now + timeout));
        Ok(id)
    }

    /// Answers `peer`'s request `id`: the handler's result, or its failure.
    pub fn respond(
        &mut self,
        now: Instant,
        peer: &Address,
        id: u64,
        result: Result<Value, String>,
    ) -> Result<(), EndpointError> {
        self.open_peer(peer)?;
        let answer = match result {
            Ok(v) => Answer {
                id,
                ok: Some(v),
                error: None,
                message: None,
            },
            Err(why) => Answer {
                id,
                ok: None,
                error: Some(Failure::Failed),
                message: Some(why),
            },
        };
        self.push_rpc(now, peer, ControlKind::RpcResult, RPC_RESULT, &answer)
    }

    fn push_rpc<T: Serialize>(
        &mut self,
        now: Instant,
        peer: &Address,
        kind: ControlKind,
        label: &str,
        body: &T,
    ) -> Result<(), EndpointError> {
        let text =
            serde_json::to_string(body).map_err(|e| EndpointError::WrongState(e.to_string()))?;
        let frame = framing::encode_in(Namespace::Control, label, &Data::Text(text))?;
        self.open_peer(peer)?
            .control
            .push_spare(kind, frame)
            .map_err(|_| EndpointError::WrongState("too many control messages wait".into()))?;
        self.pump(now, peer);
        Ok(())
    }

    /// A request from `name`: to the application if the module is served,
    /// else answered here.
    pub(super) fn on_rpc(&mut self, now: Instant, name: &Address, text: &str) {
        let Ok(req) = serde_json::from_str::<Request>(text) else {
            return self.event(EndpointEvent::BadMessage {
                peer: name.clone(),
                error: "an rpc request that does not parse".into(),
            });
        };
        if self.rpc.modules.contains(&req.module) {
            return self.event(EndpointEvent::RpcRequest {
                peer: name.clone(),
                id: req.id,
                module: req.module,
                payload: req.payload,
            });
        }
        let answer = Answer {
            id: req.id,
            ok: None,
            error: Some(Failure::NoModule),
            message: None,
        };
        // Full outbox: the requester times out, as it would for a lost one.
        let _ = self.push_rpc(now, name, ControlKind::RpcResult, RPC_RESULT, &answer);
    }

    /// An answer from `name`; one we did not ask for (or gave up on) is ignored.
    pub(super) fn on_rpc_result(&mut self, name: &Address, text: &str) {
        let Ok(answer) = serde_json::from_str::<Answer>(text) else {
            return self.event(EndpointEvent::BadMessage {
                peer: name.clone(),
                error: "an rpc answer that does not parse".into(),
            });
        };
        let Some((module, _)) = self.rpc.pending.remove(&(name.clone(), answer.id)) else {
            return;
        };
        let result = match (answer.ok, answer.error) {
            (Some(v), None) => Ok(v),
            (_, Some(Failure::NoModule)) => Err(RpcError::NoSuchModule(name.clone(), module)),
            (_, Some(Failure::Failed)) => {
                Err(RpcError::HandlerFailed(answer.message.unwrap_or_default()))
            }
            (None, None) => Ok(Value::Null),
        };
        self.event(EndpointEvent::RpcResponse {
            peer: name.clone(),
            id: answer.id,
            result,
        });
    }

    /// Requests past their deadline fail with `Timeout`, in order.
    pub(super) fn expire_rpc(&mut self, now: Instant) {
        let due: Vec<(Address, u64)> = self
            .rpc
            .pending
            .iter()
            .filter(|(_, (_, at))| *at <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for (peer, id) in due {
            self.rpc.pending.remove(&(peer.clone(), id));
            self.event(EndpointEvent::RpcResponse {
                peer,
                id,
                result: Err(RpcError::Timeout),
            });
        }
    }

    /// The connection to `peer` ended: each request to it fails.
    pub(super) fn fail_rpc(&mut self, peer: &Address) {
        for id in self.rpc.take_peer(peer) {
            self.outputs
                .push_back(super::EndpointOutput::Event(EndpointEvent::RpcResponse {
                    peer: peer.clone(),
                    id,
                    result: Err(RpcError::PeerGone),
                }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_layouts_parse_and_print_back() {
        let req: Request =
            serde_json::from_str(r#"{"id":7,"module":"echo","payload":{"text":"Friday"}}"#)
                .unwrap();
        assert_eq!((req.id, req.module.as_str()), (7, "echo"));
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"id":7,"module":"echo","payload":{"text":"Friday"}}"#
        );
        for text in [
            r#"{"id":7,"ok":{"text":"Friday"}}"#,
            r#"{"id":8,"error":"no_module"}"#,
            r#"{"id":9,"error":"failed","message":"disk full"}"#,
        ] {
            let answer: Answer = serde_json::from_str(text).unwrap();
            assert_eq!(serde_json::to_string(&answer).unwrap(), text);
        }
        // A request without a payload carries null.
        let bare: Request = serde_json::from_str(r#"{"id":1,"module":"m"}"#).unwrap();
        assert_eq!(bare.payload, Value::Null);
    }
}
