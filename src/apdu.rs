//! APDU vocabulary: the one module the card application and the reader share.
//!
//! It owns short command APDUs (ISO 7816-4 cases 1–4), responses with a typed
//! [`StatusWord`], the [`Transport`] trait a reader implements, and the T=0 rules
//! (`61xx` → GET RESPONSE, `6Cxx` → re-send with the right Le, case 4 sent without Le)
//! so that no other layer has to know which protocol the card speaks.
//!
//! Response data is card-holder data: nothing here formats it into `Debug`, `Display` or logs,
//! and it is wiped from memory when a [`Response`] is dropped.

use std::fmt;

use thiserror::Error;
use zeroize::Zeroize;

/// Instructions used by the NHI application (ISO 7816-4 numbering).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ins {
    /// SELECT (`A4`).
    Select,
    /// GET DATA (`CA`), how the NHI card gives its records.
    GetData,
    /// GET CHALLENGE (`84`).
    GetChallenge,
    /// MUTUAL AUTHENTICATE (`82`).
    MutualAuthenticate,
    /// GET RESPONSE (`C0`), for T=0 chaining.
    GetResponse,
    /// Any other instruction byte.
    Other(u8),
}

impl Ins {
    /// The instruction byte.
    pub const fn code(self) -> u8 {
        match self {
            Ins::Select => 0xA4,
            Ins::GetData => 0xCA,
            Ins::GetChallenge => 0x84,
            Ins::MutualAuthenticate => 0x82,
            Ins::GetResponse => 0xC0,
            Ins::Other(b) => b,
        }
    }

    /// The instruction for a byte.
    pub const fn from_code(b: u8) -> Ins {
        match b {
            0xA4 => Ins::Select,
            0xCA => Ins::GetData,
            0x84 => Ins::GetChallenge,
            0x82 => Ins::MutualAuthenticate,
            0xC0 => Ins::GetResponse,
            other => Ins::Other(other),
        }
    }
}

/// The trailer of every response: SW1 SW2.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusWord(u16);

impl StatusWord {
    /// `9000`: done.
    pub const SUCCESS: StatusWord = StatusWord(0x9000);
    /// `6700`: wrong length.
    pub const WRONG_LENGTH: StatusWord = StatusWord(0x6700);
    /// `6982`: security status not satisfied.
    pub const SECURITY_STATUS_NOT_SATISFIED: StatusWord = StatusWord(0x6982);
    /// `6985`: conditions of use not satisfied.
    pub const CONDITIONS_NOT_SATISFIED: StatusWord = StatusWord(0x6985);
    /// `6A80`: incorrect data.
    pub const WRONG_DATA: StatusWord = StatusWord(0x6A80);
    /// `6A81`: function not supported.
    pub const FUNCTION_NOT_SUPPORTED: StatusWord = StatusWord(0x6A81);
    /// `6A82`: file or application not found.
    pub const FILE_NOT_FOUND: StatusWord = StatusWord(0x6A82);
    /// `6A86`: incorrect P1/P2.
    pub const INCORRECT_P1P2: StatusWord = StatusWord(0x6A86);
    /// `6A88`: referenced data not found.
    pub const REFERENCED_DATA_NOT_FOUND: StatusWord = StatusWord(0x6A88);
    /// `6B00`: wrong P1/P2.
    pub const WRONG_P1P2: StatusWord = StatusWord(0x6B00);
    /// `6D00`: instruction not supported.
    pub const INS_NOT_SUPPORTED: StatusWord = StatusWord(0x6D00);
    /// `6E00`: class not supported.
    pub const CLA_NOT_SUPPORTED: StatusWord = StatusWord(0x6E00);
    /// `6F00`: no precise diagnosis.
    pub const UNKNOWN_ERROR: StatusWord = StatusWord(0x6F00);

    /// The status word `SW1 SW2`.
    pub const fn new(sw1: u8, sw2: u8) -> StatusWord {
        StatusWord(((sw1 as u16) << 8) | sw2 as u16)
    }

    /// The status word from its 16-bit value.
    pub const fn from_u16(v: u16) -> StatusWord {
        StatusWord(v)
    }

    /// The 16-bit value `SW1 << 8 | SW2`.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The first byte.
    pub const fn sw1(self) -> u8 {
        (self.0 >> 8) as u8
    }

    /// The second byte.
    pub const fn sw2(self) -> u8 {
        self.0 as u8
    }

    /// Whether this is `9000`.
    pub const fn is_success(self) -> bool {
        self.0 == 0x9000
    }

    /// ISO 7816-3 allows SW1 only in `6x` (but not `60`) and `9x`. Anything else is not a
    /// status word at all: the card (or the line) produced garbage.
    pub const fn is_well_formed(self) -> bool {
        let sw1 = self.sw1();
        (sw1 >= 0x61 && sw1 <= 0x6F) || (sw1 & 0xF0) == 0x90
    }

    /// `61xx`: xx more bytes wait for GET RESPONSE (xx = 0 means 256).
    pub const fn bytes_remaining(self) -> Option<usize> {
        if self.sw1() == 0x61 {
            Some(if self.sw2() == 0 {
                256
            } else {
                self.sw2() as usize
            })
        } else {
            None
        }
    }

    /// `6Cxx`: wrong Le, the card wants exactly xx (0 means 256).
    pub const fn exact_length(self) -> Option<usize> {
        if self.sw1() == 0x6C {
            Some(if self.sw2() == 0 {
                256
            } else {
                self.sw2() as usize
            })
        } else {
            None
        }
    }
}

impl fmt::Debug for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StatusWord({:04X})", self.0)
    }
}

impl fmt::Display for StatusWord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04X}", self.0)
    }
}

/// The protocol the card was connected with; only T=0 changes how commands go on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Character-oriented T=0: data longer than one round comes through `61xx` / GET RESPONSE.
    T0,
    /// Block-oriented T=1.
    T1,
}

/// The ISO 7816-4 case of a command: whether it sends data and whether it expects data back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    /// Header only.
    One,
    /// Header + Le.
    Two,
    /// Header + Lc + data.
    Three,
    /// Header + Lc + data + Le.
    Four,
}

/// A command or response that does not fit the APDU rules.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ApduError {
    /// More than 255 bytes of data in a short APDU.
    #[error("command data of {0} bytes does not fit a short APDU (at most 255)")]
    DataTooLong(usize),
    /// An Le outside 1–256.
    #[error("Le of {0} is outside 1..=256")]
    InvalidLe(usize),
    /// A response of fewer than the two status bytes.
    #[error("response of {0} bytes is shorter than a status word")]
    ResponseTooShort(usize),
    /// Bytes that are no well-formed command APDU.
    #[error("command of {0} bytes is not a well-formed short APDU")]
    MalformedCommand(usize),
    /// The card kept asking for more rounds than allowed.
    #[error("the card kept answering 61xx/6Cxx past {0} exchanges")]
    ChainTooLong(usize),
}

/// A short command APDU.
#[derive(Clone, PartialEq, Eq)]
pub struct Command {
    cla: u8,
    ins: Ins,
    p1: u8,
    p2: u8,
    data: Vec<u8>,
    /// Expected response length, 1..=256 (256 is encoded as `00`).
    le: Option<usize>,
}

impl Command {
    /// A command without data or Le (case 1).
    pub fn new(cla: u8, ins: Ins, p1: u8, p2: u8) -> Command {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
        }
    }

    /// The command with `data` (at most 255 bytes).
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Result<Command, ApduError> {
        let data = data.into();
        if data.len() > 255 {
            return Err(ApduError::DataTooLong(data.len()));
        }
        self.data = data;
        Ok(self)
    }

    /// Fixed-size data, checked at compile time to fit a short APDU.
    pub fn with_array<const N: usize>(mut self, data: [u8; N]) -> Command {
        const { assert!(N >= 1 && N <= 255) };
        self.data = data.to_vec();
        self
    }

    /// Le as it goes on the wire: `00` means 256.
    pub fn with_le_byte(mut self, le: u8) -> Command {
        self.le = Some(if le == 0 { 256 } else { le as usize });
        self
    }

    /// The command expecting up to `le` bytes back (1–256).
    pub fn with_le(mut self, le: usize) -> Result<Command, ApduError> {
        if !(1..=256).contains(&le) {
            return Err(ApduError::InvalidLe(le));
        }
        self.le = Some(le);
        Ok(self)
    }

    /// The class byte.
    pub fn cla(&self) -> u8 {
        self.cla
    }
    /// The instruction.
    pub fn ins(&self) -> Ins {
        self.ins
    }
    /// Parameter 1.
    pub fn p1(&self) -> u8 {
        self.p1
    }
    /// Parameter 2.
    pub fn p2(&self) -> u8 {
        self.p2
    }
    /// The command data.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    /// The expected length of the answer, if any.
    pub fn le(&self) -> Option<usize> {
        self.le
    }

    /// Which ISO case this command is.
    pub fn case(&self) -> Case {
        match (self.data.is_empty(), self.le.is_some()) {
            (true, false) => Case::One,
            (true, true) => Case::Two,
            (false, false) => Case::Three,
            (false, true) => Case::Four,
        }
    }

    /// The command as bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + self.data.len());
        out.extend_from_slice(&[self.cla, self.ins.code(), self.p1, self.p2]);
        if !self.data.is_empty() {
            // Length checked in `with_data`; 255 fits a byte.
            out.push(self.data.len() as u8);
            out.extend_from_slice(&self.data);
        }
        if let Some(le) = self.le {
            out.push(if le == 256 { 0 } else { le as u8 });
        }
        out
    }

    /// Parses a short APDU (the inverse of [`Command::to_bytes`]).
    pub fn from_bytes(bytes: &[u8]) -> Result<Command, ApduError> {
        let bad = || ApduError::MalformedCommand(bytes.len());
        let (header, body) = bytes.split_at_checked(4).ok_or_else(bad)?;
        let mut cmd = Command::new(header[0], Ins::from_code(header[1]), header[2], header[3]);
        let decode_le = |b: u8| if b == 0 { 256 } else { b as usize };
        match body {
            [] => {}
            [le] => cmd.le = Some(decode_le(*le)),
            [lc, rest @ ..] => {
                let lc = *lc as usize;
                if lc == 0 {
                    return Err(bad());
                }
                match rest.len().checked_sub(lc) {
                    Some(0) => cmd.data = rest.to_vec(),
                    Some(1) => {
                        cmd.data = rest[..lc].to_vec();
                        cmd.le = Some(decode_le(rest[lc]));
                    }
                    _ => return Err(bad()),
                }
            }
        }
        Ok(cmd)
    }

    fn without_le(&self) -> Command {
        Command {
            le: None,
            ..self.clone()
        }
    }

    fn get_response(cla: u8, le: usize) -> Command {
        Command {
            cla,
            ins: Ins::GetResponse,
            p1: 0,
            p2: 0,
            data: Vec::new(),
            le: Some(le.clamp(1, 256)),
        }
    }
}

impl fmt::Debug for Command {
    // Command data can carry authentication material; show its length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Command({:02X} {:?} {:02X} {:02X}, {} data bytes, le {:?})",
            self.cla,
            self.ins,
            self.p1,
            self.p2,
            self.data.len(),
            self.le
        )
    }
}

/// A response APDU: data (wiped on drop) and status word.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    data: Vec<u8>,
    sw: StatusWord,
}

impl Response {
    /// A response with `data` and `sw`.
    pub fn new(data: Vec<u8>, sw: StatusWord) -> Response {
        Response { data, sw }
    }

    /// Splits an answer into data and the final status word.
    pub fn from_bytes(bytes: &[u8]) -> Result<Response, ApduError> {
        match bytes {
            [data @ .., sw1, sw2] => Ok(Response {
                data: data.to_vec(),
                sw: StatusWord::new(*sw1, *sw2),
            }),
            _ => Err(ApduError::ResponseTooShort(bytes.len())),
        }
    }

    /// The response data (card-holder data: never logged).
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The status word.
    pub fn sw(&self) -> StatusWord {
        self.sw
    }

    /// The response as bytes on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.data.clone();
        out.extend_from_slice(&[self.sw.sw1(), self.sw.sw2()]);
        out
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        self.data.zeroize();
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Response({} data bytes, {})", self.data.len(), self.sw)
    }
}

/// Why an exchange with the card did not produce a response.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// The card went away.
    #[error("the card was removed")]
    CardRemoved,
    /// Another application reset the card.
    #[error("the card was reset by another application")]
    CardReset,
    /// The reader went away.
    #[error("the reader is no longer available")]
    ReaderUnavailable,
    /// The PC/SC service stopped.
    #[error("the PC/SC service is not running")]
    ServiceUnavailable,
    /// The card did not answer in time.
    #[error("the card did not answer in time")]
    Timeout,
    /// Any other failure on the line (the reader's own words).
    #[error("communication with the card failed: {0}")]
    Communication(String),
    /// The answer broke the APDU rules.
    #[error("malformed APDU: {0}")]
    Apdu(#[from] ApduError),
}

/// Most `61xx`/`6Cxx` rounds one command may take; a real card needs one or two.
pub const MAX_CHAIN: usize = 32;

/// A channel to a card. Readers implement [`Transport::transmit_raw`]; everything above the
/// reader calls [`Transport::transmit`], which applies the T=0 rules.
pub trait Transport {
    /// Sends one APDU as bytes and returns the card's answer as bytes (data + SW).
    fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError>;

    /// The protocol in use; T=1 unless the reader says otherwise.
    fn protocol(&self) -> Protocol {
        Protocol::T1
    }

    /// Sends `cmd` and returns the complete response, following `61xx` and `6Cxx`.
    fn transmit(&mut self, cmd: &Command) -> Result<Response, TransportError> {
        exchange(self, cmd)
    }
}

/// One round on the wire, traced by header, length and status word only: response data is
/// card-holder data and never logged.
fn round<T: Transport + ?Sized>(t: &mut T, cmd: &Command) -> Result<Response, TransportError> {
    log::trace!("> {cmd:?}");
    let resp = Response::from_bytes(&t.transmit_raw(&cmd.to_bytes())?)?;
    log::trace!("< {resp:?}");
    Ok(resp)
}

fn exchange<T: Transport + ?Sized>(t: &mut T, cmd: &Command) -> Result<Response, TransportError> {
    // Under T=0 a case-4 command goes without Le; the data then comes through GET RESPONSE.
    let first = if t.protocol() == Protocol::T0 && cmd.case() == Case::Four {
        cmd.without_le()
    } else {
        cmd.clone()
    };
    let mut resp = round(t, &first)?;
    let mut data: Vec<u8> = Vec::new();
    let mut resent = false;
    for _ in 0..MAX_CHAIN {
        if let Some(n) = resp.sw.bytes_remaining() {
            data.extend_from_slice(&resp.data);
            resp = round(t, &Command::get_response(cmd.cla & 0x03, n))?;
        } else if let (Some(n), false) = (resp.sw.exact_length(), resent) {
            // One re-send only: a card that keeps asking for another length is broken.
            resent = true;
            let retry = Command {
                le: Some(n),
                ..cmd.clone()
            };
            resp = round(t, &retry)?;
        } else {
            if data.is_empty() {
                return Ok(resp);
            }
            data.extend_from_slice(&resp.data);
            let sw = resp.sw;
            return Ok(Response::new(data, sw));
        }
    }
    data.zeroize();
    Err(ApduError::ChainTooLong(MAX_CHAIN).into())
}

/// Formats bytes as uppercase hex (for ATRs and command headers; never for response data).
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02X}");
            s
        })
}

#[cfg(test)]
pub(crate) mod testing {
    //! A scripted in-memory transport for unit tests of the layers above.
    use super::*;
    use std::collections::VecDeque;

    /// One expected command and the transport's answer to it.
    pub type Step = (Vec<u8>, Result<Vec<u8>, TransportError>);

    pub struct Scripted {
        pub protocol: Protocol,
        /// (expected command bytes, answer) pairs, consumed in order.
        pub script: VecDeque<Step>,
        pub sent: Vec<Vec<u8>>,
    }

    impl Scripted {
        pub fn new(steps: Vec<Step>) -> Scripted {
            Scripted {
                protocol: Protocol::T1,
                script: steps.into(),
                sent: Vec::new(),
            }
        }

        pub fn t0(mut self) -> Scripted {
            self.protocol = Protocol::T0;
            self
        }

        pub fn finished(&self) -> bool {
            self.script.is_empty()
        }
    }

    impl Transport for Scripted {
        fn transmit_raw(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
            self.sent.push(apdu.to_vec());
            let (expected, answer) = self
                .script
                .pop_front()
                .unwrap_or_else(|| panic!("unexpected APDU {}", hex(apdu)));
            assert_eq!(hex(apdu), hex(&expected), "APDU sent out of script");
            answer
        }

        fn protocol(&self) -> Protocol {
            self.protocol
        }
    }

    pub fn h(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{h, Scripted};
    use super::*;

    #[test]
    fn command_cases_encode_and_round_trip() {
        let c1 = Command::new(0x00, Ins::Other(0x44), 0, 0);
        assert_eq!(c1.case(), Case::One);
        assert_eq!(c1.to_bytes(), h("00440000"));

        let c2 = Command::new(0, Ins::GetChallenge, 0, 0).with_le(8).unwrap();
        assert_eq!(c2.case(), Case::Two);
        assert_eq!(c2.to_bytes(), h("0084000008"));

        let c3 = Command::new(0, Ins::Select, 4, 0)
            .with_data(vec![0xD1, 0x58])
            .unwrap();
        assert_eq!(c3.case(), Case::Three);
        assert_eq!(c3.to_bytes(), h("00A4040002D158"));

        let c4 = Command::new(0, Ins::GetData, 0x11, 0)
            .with_data(vec![0, 0])
            .unwrap()
            .with_le(256)
            .unwrap();
        assert_eq!(c4.case(), Case::Four);
        assert_eq!(c4.to_bytes(), h("00CA110002000000"));

        for c in [c1, c2, c3, c4] {
            assert_eq!(Command::from_bytes(&c.to_bytes()).unwrap(), c);
        }
    }

    #[test]
    fn command_limits_are_errors() {
        assert_eq!(
            Command::new(0, Ins::Select, 0, 0).with_data(vec![0; 256]),
            Err(ApduError::DataTooLong(256))
        );
        assert_eq!(
            Command::new(0, Ins::Select, 0, 0).with_le(0),
            Err(ApduError::InvalidLe(0))
        );
        assert_eq!(
            Command::new(0, Ins::Select, 0, 0).with_le(257),
            Err(ApduError::InvalidLe(257))
        );
        for bad in [
            &[][..],
            &[0, 1, 2],
            &h("00A4040003AABB"),
            &h("00A4040002AABBCCDD"),
        ] {
            assert!(Command::from_bytes(bad).is_err(), "{}", hex(bad));
        }
    }

    #[test]
    fn instruction_codes_round_trip() {
        for b in 0..=255u8 {
            assert_eq!(Ins::from_code(b).code(), b);
        }
    }

    #[test]
    fn status_words() {
        assert!(StatusWord::SUCCESS.is_success());
        assert_eq!(StatusWord::new(0x90, 0x00), StatusWord::SUCCESS);
        assert_eq!(StatusWord::new(0x61, 0x10).bytes_remaining(), Some(16));
        assert_eq!(StatusWord::new(0x61, 0x00).bytes_remaining(), Some(256));
        assert_eq!(StatusWord::new(0x6C, 0x39).exact_length(), Some(57));
        assert_eq!(StatusWord::FILE_NOT_FOUND.to_string(), "6A82");
        assert!(StatusWord::FILE_NOT_FOUND.is_well_formed());
        assert!(!StatusWord::new(0x12, 0x34).is_well_formed());
        assert!(!StatusWord::new(0x60, 0x00).is_well_formed());
        for v in [0x9000u16, 0x6A82, 0x6D00, 0x6100] {
            assert_eq!(StatusWord::from_u16(v).as_u16(), v);
        }
    }

    #[test]
    fn response_parse() {
        assert_eq!(
            Response::from_bytes(&[0x90]),
            Err(ApduError::ResponseTooShort(1))
        );
        let r = Response::from_bytes(&h("01029000")).unwrap();
        assert_eq!(r.data(), &[1, 2]);
        assert!(r.sw().is_success());
        assert_eq!(r.to_bytes(), h("01029000"));
    }

    #[test]
    fn debug_never_shows_response_data() {
        let r = Response::new(b"A123456789".to_vec(), StatusWord::SUCCESS);
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("A123456789") && !shown.contains("41"),
            "{shown}"
        );
    }

    #[test]
    fn t1_case4_keeps_le() {
        let cmd = Command::new(0, Ins::MutualAuthenticate, 0x11, 0x12)
            .with_data(vec![7; 32])
            .unwrap()
            .with_le(16)
            .unwrap();
        let mut t = Scripted::new(vec![(
            cmd.to_bytes(),
            Ok(h("00112233445566778899AABBCCDDEEFF9000")),
        )]);
        let r = t.transmit(&cmd).unwrap();
        assert_eq!(r.data().len(), 16);
        assert!(t.finished());
    }

    #[test]
    fn t0_case4_drops_le_and_follows_get_response() {
        let cmd = Command::new(0, Ins::GetData, 0x11, 0)
            .with_data(vec![0, 0])
            .unwrap()
            .with_le(256)
            .unwrap();
        let mut t = Scripted::new(vec![
            (h("00CA11000200 00"), Ok(h("6105"))),
            (h("00C0000005"), Ok(h("0102030405 9000"))),
        ])
        .t0();
        let r = t.transmit(&cmd).unwrap();
        assert_eq!(r.data(), &[1, 2, 3, 4, 5]);
        assert!(r.sw().is_success());
        assert!(t.finished());
    }

    #[test]
    fn chained_get_response_concatenates() {
        let cmd = Command::new(0, Ins::GetChallenge, 0, 0).with_le(8).unwrap();
        let mut t = Scripted::new(vec![
            (h("0084000008"), Ok(h("AABB 6106"))),
            (h("00C0000006"), Ok(h("CCDD 6104"))),
            (h("00C0000004"), Ok(h("EEFF0011 9000"))),
        ]);
        let r = t.transmit(&cmd).unwrap();
        assert_eq!(r.data(), &h("AABBCCDDEEFF0011"));
        assert!(t.finished());
    }

    #[test]
    fn wrong_le_is_resent_once() {
        let cmd = Command::new(0, Ins::GetData, 0x24, 0)
            .with_data(vec![0, 0])
            .unwrap()
            .with_le(256)
            .unwrap();
        let mut t = Scripted::new(vec![
            (h("00CA240002000000"), Ok(h("6C08"))),
            (h("00CA240002000008"), Ok(h("3031323334353637 9000"))),
        ]);
        assert_eq!(t.transmit(&cmd).unwrap().data(), b"01234567");

        // A card that asks for yet another length gets its status word back, not a loop.
        let mut t = Scripted::new(vec![
            (h("00CA240002000000"), Ok(h("6C08"))),
            (h("00CA240002000008"), Ok(h("6C09"))),
        ]);
        assert_eq!(t.transmit(&cmd).unwrap().sw(), StatusWord::new(0x6C, 0x09));
    }

    #[test]
    fn endless_chaining_is_an_error() {
        let cmd = Command::new(0, Ins::GetChallenge, 0, 0).with_le(8).unwrap();
        let mut steps = vec![(h("0084000008"), Ok(h("6101")))];
        for _ in 0..MAX_CHAIN {
            steps.push((h("00C0000001"), Ok(h("00 6101"))));
        }
        let mut t = Scripted::new(steps);
        assert_eq!(
            t.transmit(&cmd),
            Err(TransportError::Apdu(ApduError::ChainTooLong(MAX_CHAIN)))
        );
    }

    #[test]
    fn short_and_failed_answers_are_errors() {
        let cmd = Command::new(0, Ins::GetChallenge, 0, 0).with_le(8).unwrap();
        let mut t = Scripted::new(vec![(h("0084000008"), Ok(vec![0x90]))]);
        assert_eq!(
            t.transmit(&cmd),
            Err(TransportError::Apdu(ApduError::ResponseTooShort(1)))
        );
        let mut t = Scripted::new(vec![(h("0084000008"), Err(TransportError::CardRemoved))]);
        assert_eq!(t.transmit(&cmd), Err(TransportError::CardRemoved));
    }

    #[test]
    fn hex_formats_uppercase() {
        assert_eq!(hex(&[0x3B, 0x0a, 0xff]), "3B0AFF");
        assert_eq!(hex(&[]), "");
    }
}
