//! What a Chromium profile's `Preferences` file says about reaching loopback: the user's Allow or
//! Block per site and their default, under `profile.content_settings.exceptions.<setting>` and
//! `profile.default_content_setting_values.<setting>` (1 allow, 2 block, 3 ask).
//!
//! Read-only: the browser may be writing the file as we read it. It replaces the file whole
//! (write to a temporary file, then rename), so a read sees the old or the new file; a read that
//! still does not parse is tried once more, then reported as unreadable. The file is never
//! locked or written.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::pattern::SitePattern;

/// Chromium 145+: 「裝置上的應用程式」/"Apps on device" — calls to loopback.
pub const LOOPBACK: &str = "loopback_network";
/// Chromium 145+: 「區域網路」/"Local network" — calls to other machines on the LAN.
pub const LOCAL: &str = "local_network";
/// Chromium 142–144: 「區域網路存取」/"Local network access" — both, before the split.
pub const LEGACY: &str = "local_network_access";

/// A user's recorded choice for one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    /// The content setting it is under.
    pub setting: &'static str,
    /// The site (primary pattern).
    pub site: SitePattern,
    /// As written in the file (`https://host:443`).
    pub site_text: String,
    /// 1 allow, 2 block, 3 ask.
    pub value: i64,
}

/// A profile's loopback-related choices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choices {
    /// Per-site choices.
    pub exceptions: Vec<Exception>,
    /// The user's default per setting, where changed (setting, value).
    pub defaults: Vec<(&'static str, i64)>,
}

/// Why a profile could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable(pub String);

/// Reads `Preferences` at `path` (see the module notes).
pub fn read(path: &Path) -> Result<Choices, Unreadable> {
    let mut last = String::new();
    for attempt in 0..2 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
        match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => return Ok(choices(&v)),
                Err(e) => last = format!("not JSON ({e})"),
            },
            Err(e) => return Err(Unreadable(e.to_string())),
        }
    }
    Err(Unreadable(last))
}

/// The choices in a parsed `Preferences` document.
pub fn choices(doc: &Value) -> Choices {
    let mut out = Choices::default();
    let profile = &doc["profile"];
    for setting in [LOOPBACK, LOCAL, LEGACY] {
        if let Some(map) = profile["content_settings"]["exceptions"][setting].as_object() {
            for (key, entry) in map {
                let primary = key.split(',').next().unwrap_or_default();
                let (Some(site), Some(value)) =
                    (SitePattern::parse(primary), entry["setting"].as_i64())
                else {
                    continue;
                };
                out.exceptions.push(Exception {
                    setting,
                    site,
                    site_text: primary.to_owned(),
                    value,
                });
            }
        }
        if let Some(v) = profile["default_content_setting_values"][setting].as_i64() {
            out.defaults.push((setting, v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_block_as_chromium_156_records_it() {
        let doc = serde_json::json!({"profile": {"content_settings": {"exceptions": {
            "loopback_network": {"https://cloudicweb.nhi.gov.tw:443,*": {"last_modified": "1", "setting": 2}},
            "local_network": {"https://cloudicweb.nhi.gov.tw:443,*": {"setting": 1}},
            "geolocation": {"https://x.example:443,*": {"setting": 2}}
        }}, "default_content_setting_values": {"loopback_network": 2}}});
        let c = choices(&doc);
        assert_eq!(c.exceptions.len(), 2);
        assert_eq!(
            (c.exceptions[0].setting, c.exceptions[0].value),
            (LOOPBACK, 2)
        );
        assert_eq!(
            c.exceptions[0].site_text,
            "https://cloudicweb.nhi.gov.tw:443"
        );
        assert_eq!(c.defaults, vec![(LOOPBACK, 2)]);
    }

    #[test]
    fn corrupt_truncated_and_unreadable_files_are_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("Preferences");
        std::fs::write(&p, b"{\"profile\": {\"content_settings\"").unwrap();
        assert!(read(&p).unwrap_err().0.starts_with("not JSON"));
        assert!(read(&tmp.path().join("missing")).is_err());
        std::fs::write(&p, b"[1, 2]").unwrap();
        assert_eq!(read(&p).unwrap(), Choices::default());
    }
}
