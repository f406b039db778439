//! The legacy `/echo` commands (protocol/legacy-nhi.md §1.3–1.5): one parsed value per verb,
//! matched by case-sensitive prefix in the official component's order.

/// The protocol version the page prepends to its random value (`GetVersion`).
pub const PROTOCOL_VERSION: &str = "0011";

/// One `/echo` command, matched by prefix as the official component does (§1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `GetBasic`: the six profile fields.
    GetBasic,
    /// `GetRandom`: 16 random digits.
    GetRandom,
    /// `GetVersion`: the protocol version.
    GetVersion,
    /// `H_Sign?Random=` + the 20-character argument (validated when run).
    HSign(String),
    /// `EnCrypt?Pwd=` + the password.
    EnCrypt(String),
    /// `SecureGetBasicWithParam?Pwd=…` (the password is not used, as in the official component).
    SecureGetBasic,
    /// `H_SignIPAndPort?`, `GetHostIPaddr`, `GetHostPort`: deliberately not supported (a page
    /// must not choose the host the component talks to); answered like unknown commands.
    Unsupported,
    /// Anything else (`9999`).
    Unknown,
}

impl Command {
    /// The command a frame's text asks for.
    pub fn parse(frame: &str) -> Command {
        // The official component treats the payload as a C string.
        let text = frame.split('\0').next().unwrap_or("");
        if text.starts_with("GetBasic") {
            Command::GetBasic
        } else if text.starts_with("GetRandom") {
            Command::GetRandom
        } else if text.starts_with("GetVersion") {
            Command::GetVersion
        } else if let Some(arg) = text.strip_prefix("H_Sign?Random=") {
            Command::HSign(arg.to_owned())
        } else if let Some(pwd) = text.strip_prefix("EnCrypt?Pwd=") {
            Command::EnCrypt(pwd.to_owned())
        } else if text.starts_with("SecureGetBasicWithParam?Pwd=") {
            Command::SecureGetBasic
        } else if text.starts_with("H_SignIPAndPort?")
            || text.starts_with("GetHostIPaddr")
            || text.starts_with("GetHostPort")
        {
            Command::Unsupported
        } else {
            Command::Unknown
        }
    }

    /// The name a success reply starts with (`Name:payload`).
    pub fn reply_name(&self) -> &'static str {
        match self {
            Command::GetBasic => "GetBasic",
            Command::GetRandom => "GetRandom",
            Command::GetVersion => "GetVersion",
            Command::HSign(_) => "H_Sign",
            Command::EnCrypt(_) => "EnCrypt",
            Command::SecureGetBasic => "SecureGetBasicWithParam",
            Command::Unsupported | Command::Unknown => "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_matching_in_order() {
        assert_eq!(Command::parse("GetBasic"), Command::GetBasic);
        assert_eq!(Command::parse("GetBasicXYZ"), Command::GetBasic);
        assert_eq!(Command::parse("GetRandom"), Command::GetRandom);
        assert_eq!(Command::parse("GetVersion"), Command::GetVersion);
        assert_eq!(
            Command::parse("H_Sign?Random=00111234567890123456"),
            Command::HSign("00111234567890123456".into())
        );
        assert_eq!(
            Command::parse("EnCrypt?Pwd=123456789012"),
            Command::EnCrypt("123456789012".into())
        );
        assert_eq!(
            Command::parse("SecureGetBasicWithParam?Pwd=44666"),
            Command::SecureGetBasic
        );
        assert_eq!(
            Command::parse("H_SignIPAndPort?Random=1&IP=2&PORT=3"),
            Command::Unsupported
        );
        assert_eq!(Command::parse("GetHostIPaddr"), Command::Unsupported);
        assert_eq!(Command::parse("getbasic"), Command::Unknown);
        assert_eq!(Command::parse(" GetBasic"), Command::Unknown);
        assert_eq!(Command::parse("H_Sign"), Command::Unknown);
        assert_eq!(Command::parse(""), Command::Unknown);
        assert_eq!(Command::parse("GetVer\0sion"), Command::Unknown);
        assert_eq!(Command::parse("GetVersion\0junk"), Command::GetVersion);
    }
}
