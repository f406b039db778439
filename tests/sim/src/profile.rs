//! A simulated card holder, read from TOML. All sample data is fictitious.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimProfile {
    /// 12 ASCII digits.
    pub card_no: String,
    /// UTF-8 here; Big5 on the card (at most 20 bytes).
    pub name: String,
    /// 10 characters.
    pub id_no: String,
    /// ROC `yyyMMdd`.
    pub birth_date: String,
    /// `M` or `F`.
    pub sex: String,
    /// ROC `yyyMMdd`.
    pub issue_date: String,
    /// The 8 characters answered to `00 CA 24`.
    #[serde(default = "default_card_data")]
    pub card_data: String,
    /// Hex key of the card's MUTUAL AUTHENTICATE answer (shared with the SAM simulator).
    #[serde(default = "default_secret")]
    pub auth_secret: String,
}

fn default_card_data() -> String {
    "00000000".into()
}

fn default_secret() -> String {
    "000102030405060708090a0b0c0d0e0f".into()
}

/// The built-in fictitious holder (`profiles/sample.toml`).
pub const SAMPLE: &str = include_str!("../profiles/sample.toml");

impl SimProfile {
    /// The profile in `path`, or the built-in sample.
    pub fn load(path: Option<&std::path::Path>) -> Result<SimProfile, String> {
        let text = match path {
            Some(p) => {
                std::fs::read_to_string(p).map_err(|e| format!("reading {}: {e}", p.display()))?
            }
            None => SAMPLE.to_owned(),
        };
        SimProfile::from_toml(&text)
    }

    pub fn from_toml(text: &str) -> Result<SimProfile, String> {
        let p: SimProfile = toml::from_str(text).map_err(|e| e.to_string())?;
        p.record()?;
        p.secret()?;
        if p.card_data.len() != 8 || !p.card_data.is_ascii() {
            return Err("card_data must be 8 ASCII characters".into());
        }
        Ok(p)
    }

    /// The 57-byte basic profile record as the card answers `00 CA 11`.
    pub fn record(&self) -> Result<Vec<u8>, String> {
        let fixed = |v: &str, len: usize, what: &str| -> Result<Vec<u8>, String> {
            if v.len() == len && v.is_ascii() {
                Ok(v.as_bytes().to_vec())
            } else {
                Err(format!("{what} must be {len} ASCII characters"))
            }
        };
        let (name, _, unmappable) = encoding_rs::BIG5.encode(&self.name);
        if unmappable {
            return Err("name has characters Big5 cannot encode".into());
        }
        if name.len() > 20 {
            return Err("name is longer than 20 Big5 bytes".into());
        }
        let mut name = name.into_owned();
        name.resize(20, 0);
        let mut r = fixed(&self.card_no, 12, "card_no")?;
        r.extend_from_slice(&name);
        r.extend(fixed(&self.id_no, 10, "id_no")?);
        r.extend(fixed(&self.birth_date, 7, "birth_date")?);
        r.extend(fixed(&self.sex, 1, "sex")?);
        r.extend(fixed(&self.issue_date, 7, "issue_date")?);
        Ok(r)
    }

    pub fn secret(&self) -> Result<Vec<u8>, String> {
        let s = self.auth_secret.trim();
        if !s.len().is_multiple_of(2) || s.is_empty() {
            return Err("auth_secret must be an even number of hex digits".into());
        }
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string()))
            .collect()
    }
}
