//! The signaling protocol between clients and the hub: names, messages, codec.

pub mod address;
pub mod codec;
pub mod message;
pub mod names;

pub use address::{Address, AddressError, DEFAULT_DEVICE, DeviceName, MAX_DEVICE_LEN, PeerId};
pub use codec::{DecodeError, MAX_FRAME_LEN, decode_client, decode_hub, encode_client, encode_hub};
pub use message::{ClientMsg, CloseReason, ContactEntry, HubMsg, PROTOCOL_VERSION, SessionLimits};
pub use names::{AttemptId, GroupId, GroupName, MAX_NAME_LEN, NameError, UserName};
