//! The NHI card application, independent of how the card is reached.
//!
//! It owns the APDUs of the 健保 (HC) application, their responses and the errors they can
//! produce. It talks to the card only through [`crate::apdu::Transport`]; it never imports the
//! reader layer, so unit tests run it against a scripted transport and the daemon against PC/SC.

pub mod nhi;
pub mod profile;

pub use nhi::{CardError, NhiCard, HC_AID};
pub use profile::{
    CardData, CardId, CardNumber, HolderName, IdNumber, Profile, ProfileError, RocDate,
    RocDateError, Sex,
};
