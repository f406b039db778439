//! Commands of the NHI HC application (protocol/legacy-nhi.md §3.2) and the mapping of each
//! answer to a value or a typed error. No answer, however malformed, panics.

use thiserror::Error;

use crate::apdu::{Command, Ins, Response, StatusWord, Transport, TransportError};

use super::profile::{CardData, CardId, Profile, ProfileError};

/// AID of the HC (健保) application.
pub const HC_AID: [u8; 16] = [
    0xD1, 0x58, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x11, 0x00,
];

/// Which card operation an error belongs to (used in messages; carries no data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// SELECT of the NHI application.
    Select,
    /// `CA 11`: the basic profile.
    ReadProfile,
    /// `CA 24`: the card data.
    ReadCardData,
    /// `CA 00`: the card ID.
    ReadCardId,
    /// GET CHALLENGE.
    GetChallenge,
    /// MUTUAL AUTHENTICATE.
    MutualAuth,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Operation::Select => "SELECT HC application",
            Operation::ReadProfile => "read basic profile (CA 11)",
            Operation::ReadCardData => "read card data (CA 24)",
            Operation::ReadCardId => "read card ID (CA 00)",
            Operation::GetChallenge => "GET CHALLENGE",
            Operation::MutualAuth => "MUTUAL AUTHENTICATE",
        })
    }
}

/// Why an NHI card operation failed (never with response data).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CardError {
    /// The card refused the HC application: it is not an NHI card (or not this application).
    #[error("the card is not an NHI card (SELECT answered {0})")]
    NotNhiCard(StatusWord),
    /// A well-formed refusal of a command after SELECT.
    #[error("{op} refused with status {sw}")]
    Refused {
        /// What was asked.
        op: Operation,
        /// The card's answer.
        sw: StatusWord,
    },
    /// The answer is not what the command can produce: wrong length, bad field, not a status word.
    #[error("{op}: malformed answer from the card ({reason})")]
    Malformed {
        /// What was asked.
        op: Operation,
        /// What is wrong with the answer (never its bytes).
        reason: String,
    },
    /// The reader or the line failed.
    #[error("{op}: {source}")]
    Transport {
        /// What was asked.
        op: Operation,
        /// What failed.
        #[source]
        source: TransportError,
    },
}

impl CardError {
    /// The transport failure behind this error, if that is what it is.
    pub fn transport(&self) -> Option<&TransportError> {
        match self {
            CardError::Transport { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The HC application on one card, over any transport.
pub struct NhiCard<'t, T: Transport + ?Sized> {
    transport: &'t mut T,
}

impl<'t, T: Transport + ?Sized> NhiCard<'t, T> {
    /// The NHI application on `transport`.
    pub fn new(transport: &'t mut T) -> Self {
        NhiCard { transport }
    }

    fn run(&mut self, op: Operation, cmd: &Command) -> Result<Response, CardError> {
        let resp = self
            .transport
            .transmit(cmd)
            .map_err(|source| match source {
                TransportError::Apdu(e) => CardError::Malformed {
                    op,
                    reason: e.to_string(),
                },
                source => CardError::Transport { op, source },
            })?;
        let sw = resp.sw();
        if !sw.is_well_formed() {
            return Err(CardError::Malformed {
                op,
                reason: format!("{sw} is not a status word"),
            });
        }
        if !sw.is_success() {
            // ISO 7816-4: an error status carries no data; data beside one is line noise.
            if !resp.data().is_empty() {
                return Err(CardError::Malformed {
                    op,
                    reason: format!("{} data bytes with status {sw}", resp.data().len()),
                });
            }
            return Err(match op {
                Operation::Select => CardError::NotNhiCard(sw),
                op => CardError::Refused { op, sw },
            });
        }
        Ok(resp)
    }

    fn expect_len(op: Operation, resp: &Response, len: usize) -> Result<(), CardError> {
        if resp.data().len() == len {
            Ok(())
        } else {
            Err(CardError::Malformed {
                op,
                reason: format!("{} data bytes, expected {len}", resp.data().len()),
            })
        }
    }

    /// SELECT the HC application (`00 A4 04 00 10 <AID>`).
    pub fn select(&mut self) -> Result<(), CardError> {
        let cmd = select_command();
        self.run(Operation::Select, &cmd).map(drop)
    }

    /// Reads the basic profile (`00 CA 11 00 02 00 00 00`).
    pub fn read_profile(&mut self) -> Result<Profile, CardError> {
        let op = Operation::ReadProfile;
        let resp = self.run(op, &get_data(0x11))?;
        Profile::parse(resp.data()).map_err(|e: ProfileError| CardError::Malformed {
            op,
            reason: e.to_string(),
        })
    }

    /// Reads the HC card data (`00 CA 24 00 02 00 00 00`).
    pub fn card_data(&mut self) -> Result<CardData, CardError> {
        let op = Operation::ReadCardData;
        let resp = self.run(op, &get_data(0x24))?;
        Self::expect_len(op, &resp, CardData::LEN)?;
        CardData::parse(resp.data()).ok_or_else(|| CardError::Malformed {
            op,
            reason: "not printable ASCII".into(),
        })
    }

    /// Reads the card ID used by the cloud SAM (`00 CA 00 00 02 00 00 00`).
    pub fn card_id(&mut self) -> Result<CardId, CardError> {
        let op = Operation::ReadCardId;
        let resp = self.run(op, &get_data(0x00))?;
        Self::expect_len(op, &resp, 12)?;
        CardId::parse(resp.data()).ok_or_else(|| CardError::Malformed {
            op,
            reason: "bad card ID".into(),
        })
    }

    /// GET CHALLENGE (`00 84 00 00 08`): 8 random bytes from the card.
    pub fn get_challenge(&mut self) -> Result<[u8; 8], CardError> {
        let op = Operation::GetChallenge;
        let cmd = Command::new(0x00, Ins::GetChallenge, 0, 0).with_le_byte(8);
        let resp = self.run(op, &cmd)?;
        Self::expect_len(op, &resp, 8)?;
        let mut out = [0u8; 8];
        out.copy_from_slice(resp.data());
        Ok(out)
    }

    /// MUTUAL AUTHENTICATE with the cloud SAM's 32 bytes (`00 82 11 12 20 … 10`): 16 bytes back.
    pub fn mutual_auth(&mut self, sam_data: &[u8; 32]) -> Result<[u8; 16], CardError> {
        let op = Operation::MutualAuth;
        let cmd = Command::new(0x00, Ins::MutualAuthenticate, 0x11, 0x12)
            .with_array(*sam_data)
            .with_le_byte(16);
        let resp = self.run(op, &cmd)?;
        Self::expect_len(op, &resp, 16)?;
        let mut out = [0u8; 16];
        out.copy_from_slice(resp.data());
        Ok(out)
    }
}

/// The SELECT command, also used by the reader choice to recognise an NHI card.
pub fn select_command() -> Command {
    Command::new(0x00, Ins::Select, 0x04, 0x00).with_array(HC_AID)
}

fn get_data(p1: u8) -> Command {
    // Lc = 2, data 00 00, Le = 00 (up to 256), exactly as the official component sends it.
    Command::new(0x00, Ins::GetData, p1, 0x00)
        .with_array([0x00, 0x00])
        .with_le_byte(0x00)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::testing::{h, Scripted};
    use crate::apdu::{hex, ApduError};

    const SELECT: &str = "00A4040010 D1580000010000000000000000001100";
    const CA11: &str = "00CA110002000000";
    const CA24: &str = "00CA240002000000";
    const CA00: &str = "00CA000002000000";

    fn profile_bytes() -> Vec<u8> {
        let mut r = b"000012345678".to_vec();
        let (name, _, _) = encoding_rs::BIG5.encode("王小明");
        let mut name = name.into_owned();
        name.resize(20, 0);
        r.extend_from_slice(&name);
        r.extend_from_slice(b"A1234567890700315M1100101");
        r
    }

    fn ok(data: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut v = data.to_vec();
        v.extend_from_slice(&[0x90, 0x00]);
        Ok(v)
    }

    #[test]
    fn apdus_are_byte_exact() {
        assert_eq!(hex(&select_command().to_bytes()), hex(&h(SELECT)));
        assert_eq!(select_command().to_bytes().len(), 21);
        assert_eq!(hex(&get_data(0x11).to_bytes()), CA11);
    }

    #[test]
    fn select_then_read_everything() {
        let mut t = Scripted::new(vec![
            (h(SELECT), ok(&[])),
            (h(CA11), ok(&profile_bytes())),
            (h(CA24), ok(b"N0000000")),
            (h(CA00), ok(b"000012345678")),
            (h("0084000008"), ok(&[1, 2, 3, 4, 5, 6, 7, 8])),
            (
                [h("0082111220"), vec![0xAB; 32], vec![0x10]].concat(),
                ok(&[9; 16]),
            ),
        ]);
        let mut card = NhiCard::new(&mut t);
        card.select().unwrap();
        let p = card.read_profile().unwrap();
        assert_eq!(p.name.text(), "王小明");
        assert_eq!(card.card_data().unwrap().flag(), 'N');
        assert_eq!(card.card_id().unwrap().as_bytes(), b"000012345678");
        assert_eq!(card.get_challenge().unwrap(), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(card.mutual_auth(&[0xAB; 32]).unwrap(), [9; 16]);
        assert!(t.finished());
    }

    #[test]
    fn t0_card_reads_through_get_response() {
        let data = profile_bytes();
        let mut t = Scripted::new(vec![
            (h(SELECT), Ok(h("9000"))),
            (h("00CA110002 0000"), Ok(h("6139"))),
            (h("00C0000039"), ok(&data)),
            ([h("0082111220"), vec![0; 32]].concat(), Ok(h("6110"))),
            (h("00C0000010"), ok(&[5; 16])),
        ])
        .t0();
        let mut card = NhiCard::new(&mut t);
        card.select().unwrap();
        assert_eq!(card.read_profile().unwrap().id_no.as_str(), "A123456789");
        assert_eq!(card.mutual_auth(&[0; 32]).unwrap(), [5; 16]);
        assert!(t.finished());
    }

    #[test]
    fn select_refused_is_not_an_nhi_card() {
        for sw in ["6A82", "6D00", "6E00", "6999", "6A86"] {
            let mut t = Scripted::new(vec![(h(SELECT), Ok(h(sw)))]);
            let err = NhiCard::new(&mut t).select().unwrap_err();
            assert!(
                matches!(err, CardError::NotNhiCard(s) if s.to_string() == sw),
                "{err}"
            );
        }
    }

    #[test]
    fn malformed_answers_are_typed_errors() {
        let cases: Vec<(&str, Result<Vec<u8>, TransportError>)> = vec![
            ("empty answer", Ok(vec![])),
            ("one byte", Ok(vec![0x90])),
            ("not a status word", Ok(h("1234"))),
            ("data with an error status", Ok(h("0102 6A82"))),
            ("short profile", ok(&profile_bytes()[..56])),
            ("long profile", ok(&[profile_bytes(), vec![0]].concat())),
            (
                "bad field",
                ok(&[b"X".to_vec(), profile_bytes()[1..].to_vec()].concat()),
            ),
        ];
        for (what, answer) in cases {
            let mut t = Scripted::new(vec![(h(CA11), answer)]);
            let err = NhiCard::new(&mut t).read_profile().unwrap_err();
            assert!(
                matches!(
                    err,
                    CardError::Malformed {
                        op: Operation::ReadProfile,
                        ..
                    }
                ),
                "{what}: {err}"
            );
            // The error text never echoes the card's bytes.
            assert!(!err.to_string().contains("A123456789"), "{what}: {err}");
        }
    }

    #[test]
    fn each_command_checks_its_length() {
        let mut t = Scripted::new(vec![
            (h(CA24), ok(b"N00")),
            (h(CA00), ok(b"0000123456789")),
            (h("0084000008"), ok(&[1; 7])),
            (
                [h("0082111220"), vec![0; 32], vec![0x10]].concat(),
                ok(&[1; 15]),
            ),
        ]);
        let mut card = NhiCard::new(&mut t);
        assert!(matches!(
            card.card_data(),
            Err(CardError::Malformed {
                op: Operation::ReadCardData,
                ..
            })
        ));
        assert!(matches!(
            card.card_id(),
            Err(CardError::Malformed {
                op: Operation::ReadCardId,
                ..
            })
        ));
        assert!(matches!(
            card.get_challenge(),
            Err(CardError::Malformed {
                op: Operation::GetChallenge,
                ..
            })
        ));
        assert!(matches!(
            card.mutual_auth(&[0; 32]),
            Err(CardError::Malformed {
                op: Operation::MutualAuth,
                ..
            })
        ));
    }

    #[test]
    fn refusals_and_transport_failures_keep_their_kind() {
        let mut t = Scripted::new(vec![
            (h(CA11), Ok(h("6982"))),
            (h(CA24), Err(TransportError::CardRemoved)),
            (
                h(CA00),
                Err(TransportError::Apdu(ApduError::ResponseTooShort(0))),
            ),
        ]);
        let mut card = NhiCard::new(&mut t);
        assert_eq!(
            card.read_profile().unwrap_err(),
            CardError::Refused {
                op: Operation::ReadProfile,
                sw: StatusWord::SECURITY_STATUS_NOT_SATISFIED
            }
        );
        let err = card.card_data().unwrap_err();
        assert_eq!(err.transport(), Some(&TransportError::CardRemoved));
        assert!(matches!(card.card_id(), Err(CardError::Malformed { .. })));
    }
}
