//! Whether the browsers let NHI pages reach the component (Local Network Access), and the
//! managed policy that lets them without a prompt.
//!
//! NHI's pages are public sites; Chromium 142+ asks the user before such a page may call loopback
//! (since 145 the setting is 「裝置上的應用程式」/"Apps on device"). Per browser profile this
//! module reads the user's recorded choice (`prefs`) and the managed policies in force
//! (`crate::os`), and decides for the configured allowlist: allowed by policy, allowed by the
//! user, blocked, or will ask. [`allow`] and [`revoke`] write and remove our policy — only the
//! allowlist's origins, only our own file or list entries. Nothing here reads browsing history;
//! a profile is named by its directory.

mod pattern;
mod prefs;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use pattern::SitePattern;

use crate::config::origin::Entry;
use crate::config::Allowlist;
use crate::os::{self, Browser, PolicyChange, PolicyError, PolicyState};

/// Whether NHI pages may reach the component from one profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// A managed policy allows every allowlisted origin: no prompt.
    AllowedByPolicy,
    /// The user allowed the NHI site (and blocked none).
    AllowedByUser,
    /// A managed policy blocks an NHI site.
    BlockedByPolicy,
    /// The user blocked an NHI site (or blocks every site by default).
    BlockedByUser,
    /// The browser will ask on the NHI page.
    WillAsk,
    /// This browser does not gate loopback (as configured).
    NotGated,
    /// It could not be told (an unreadable file; a browser whose store we do not read).
    Unknown,
}

/// One browser profile's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct ProfileAccess {
    /// `chrome`, `edge`, `chromium`, `brave`, `firefox`.
    pub browser: &'static str,
    /// The browser's name.
    pub browser_name: &'static str,
    /// The profile's directory name (`Default`, `Profile 1`, `abcd.default-release`).
    pub profile: String,
    /// The browser's version, where it left one (`Last Version`).
    pub version: Option<String>,
    /// The verdict.
    pub access: Access,
    /// The NHI site the user blocked or allowed, when there is one.
    pub site: Option<String>,
    /// Why it is unknown, or which file could not be read.
    pub detail: Option<String>,
}

/// One browser's managed policies.
#[derive(Debug, Clone, Serialize)]
pub struct BrowserPolicy {
    /// The browser.
    pub browser: Browser,
    /// What its policies say.
    #[serde(flatten)]
    pub state: PolicyState,
}

/// Every profile's verdict and every browser's policies.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Per profile.
    pub profiles: Vec<ProfileAccess>,
    /// Per browser.
    pub policies: Vec<BrowserPolicy>,
}

/// Looks at every Chromium-family profile and Firefox profile under `home`.
pub fn report(home: &Path, allow: &Allowlist) -> Report {
    let mut profiles = Vec::new();
    let mut policies = Vec::new();
    for browser in Browser::ALL {
        let state = os::read_policy(browser);
        for dir in os::user_data_dirs(browser, home) {
            let version = std::fs::read_to_string(dir.join("Last Version"))
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty() && v.len() < 32);
            for profile in profile_dirs(&dir) {
                profiles.push(judge(browser, &profile, version.clone(), &state, allow));
            }
        }
        policies.push(BrowserPolicy { browser, state });
    }
    profiles.extend(firefox(home));
    Report { profiles, policies }
}

/// [`report`] for the running user, off the async threads (it reads files, and on Windows runs
/// `reg.exe`), given up after 3 s: `None` then, or when there is no home directory.
pub async fn report_for_user(allow: &Allowlist) -> Option<Report> {
    let home = directories::BaseDirs::new()?.home_dir().to_path_buf();
    let allow = allow.clone();
    let job = tokio::task::spawn_blocking(move || report(&home, &allow));
    tokio::time::timeout(std::time::Duration::from_secs(3), job)
        .await
        .ok()?
        .ok()
}

impl Report {
    /// Whether some profile blocks NHI pages (the user's choice or a policy).
    pub fn any_blocked(&self) -> bool {
        self.profiles
            .iter()
            .any(|p| matches!(p.access, Access::BlockedByUser | Access::BlockedByPolicy))
    }
}

/// The profile directories of a user-data directory: those with a `Preferences` file, but not
/// the guest and system profiles (never used for NHI pages).
fn profile_dirs(user_data: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(user_data) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name != "System Profile" && name != "Guest Profile" && p.join("Preferences").exists()
        })
        .collect();
    dirs.sort();
    dirs
}

fn major(version: Option<&str>) -> Option<u32> {
    version?.split('.').next()?.parse().ok()
}

/// The content settings that gate loopback in this version.
fn settings_for(version: Option<&str>) -> &'static [&'static str] {
    match major(version) {
        Some(v) if v >= 145 => &[prefs::LOOPBACK],
        Some(_) => &[prefs::LEGACY],
        None => &[prefs::LOOPBACK, prefs::LEGACY],
    }
}

fn judge(
    browser: Browser,
    profile: &Path,
    version: Option<String>,
    policy: &PolicyState,
    allow: &Allowlist,
) -> ProfileAccess {
    let mut out = ProfileAccess {
        browser: browser.id(),
        browser_name: browser.name(),
        profile: profile
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        version,
        access: Access::WillAsk,
        site: None,
        detail: None,
    };
    let entries = allow.entries();
    let patterns = |lists: &[os::PolicyList]| -> Vec<SitePattern> {
        lists
            .iter()
            .flat_map(|l| l.entries.iter())
            .filter_map(|e| SitePattern::parse(e))
            .collect()
    };
    let allowed = patterns(&policy.allow);
    if !entries.is_empty() && entries.iter().all(|e| allowed.iter().any(|p| p.covers(*e))) {
        out.access = Access::AllowedByPolicy;
        return out;
    }
    if let Some(p) = patterns(&policy.block)
        .iter()
        .find(|p| entries.iter().any(|e| p.touches(*e)))
    {
        out.access = Access::BlockedByPolicy;
        out.site = p.origin();
        return out;
    }
    let choices = match prefs::read(&profile.join("Preferences")) {
        Ok(c) => c,
        Err(e) => {
            out.access = Access::Unknown;
            out.detail = Some(format!(
                "{}: {}",
                profile.join("Preferences").display(),
                e.0
            ));
            return out;
        }
    };
    let gating = settings_for(out.version.as_deref());
    let relevant = |value: i64| {
        choices.exceptions.iter().find(|x| {
            x.value == value
                && gating.contains(&x.setting)
                && entries.iter().any(|e| x.site.touches(*e))
        })
    };
    if let Some(x) = relevant(2) {
        out.access = Access::BlockedByUser;
        out.site = x.site.origin().or_else(|| Some(x.site_text.clone()));
    } else if let Some(x) = relevant(1) {
        out.access = Access::AllowedByUser;
        out.site = x.site.origin().or_else(|| Some(x.site_text.clone()));
    } else if choices
        .defaults
        .iter()
        .any(|(s, v)| *v == 2 && gating.contains(s))
    {
        out.access = Access::BlockedByUser;
    }
    out
}

/// Firefox profiles: Firefox keeps site choices in `permissions.sqlite`, which is not read; its
/// Local Network Access switches (`network.lna.*` in `prefs.js`/`user.js`) are.
fn firefox(home: &Path) -> Vec<ProfileAccess> {
    crate::tls::trust::nss_dbs(home)
        .into_iter()
        .filter(|db| db.firefox && db.dir.is_dir())
        .map(|db| {
            let mut text = String::new();
            for f in ["prefs.js", "user.js"] {
                text.push_str(&std::fs::read_to_string(db.dir.join(f)).unwrap_or_default());
            }
            let off = ["network.lna.enabled", "network.lna.blocking"]
                .iter()
                .any(|p| text.contains(&format!("user_pref(\"{p}\", false)")));
            ProfileAccess {
                browser: "firefox",
                browser_name: "Firefox",
                profile: db
                    .dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                version: None,
                access: if off {
                    Access::NotGated
                } else {
                    Access::Unknown
                },
                site: None,
                detail: (!off).then(|| {
                    "Firefox keeps per-site choices in permissions.sqlite, which is not read"
                        .to_owned()
                }),
            }
        })
        .collect()
}

/// The setting a user changes, in the browser's own words, zh-TW and English.
pub fn setting_name(version: Option<&str>) -> (&'static str, &'static str) {
    match major(version) {
        Some(v) if v < 145 => ("區域網路存取", "Local network access"),
        _ => ("裝置上的應用程式", "Apps on device"),
    }
}

/// Where the site's settings are, for `browser` and `site` (an origin).
pub fn settings_url(browser: &str, site: &str) -> String {
    let scheme = match browser {
        "edge" => "edge",
        "brave" => "brave",
        _ => "chrome",
    };
    let mut encoded = String::new();
    for b in site.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                encoded.push(b as char)
            }
            _ => encoded.push_str(&format!("%{b:02X}")),
        }
    }
    format!("{scheme}://settings/content/siteDetails?site={encoded}")
}

/// The NHI page people use for registration, when the allowlist allows it; else the first exact
/// allowlisted origin.
pub fn page_site(allow: &Allowlist) -> String {
    const REGISTRATION: &str = "https://cloudicweb.nhi.gov.tw";
    if allow.allows(REGISTRATION) {
        return REGISTRATION.to_owned();
    }
    allow
        .entries()
        .iter()
        .find_map(|e| match e {
            Entry::Exact(o) => Some(o.to_string()),
            Entry::Subdomains(_) => None,
        })
        .unwrap_or_else(|| REGISTRATION.to_owned())
}

/// What `allow` or `revoke` did for one browser.
#[derive(Debug)]
pub struct Step {
    /// The browser.
    pub browser: Browser,
    /// What happened.
    pub result: Result<PolicyChange, PolicyError>,
}

/// Writes our policy for every browser: the allowlist's origins may reach loopback.
pub fn allow(allow: &Allowlist) -> Vec<Step> {
    let patterns = allow.browser_patterns();
    Browser::ALL
        .into_iter()
        .map(|browser| Step {
            browser,
            result: os::write_policy(browser, &patterns),
        })
        .collect()
}

/// Removes our policy from every browser.
pub fn revoke() -> Vec<Step> {
    Browser::ALL
        .into_iter()
        .map(|browser| Step {
            browser,
            result: os::remove_policy(browser),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile_with(prefs: &str) -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("Default");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("Preferences"), prefs).unwrap();
        (tmp, dir)
    }

    fn verdict(prefs: &str, version: &str, policy: &PolicyState) -> ProfileAccess {
        let (_t, dir) = profile_with(prefs);
        judge(
            Browser::Chromium,
            &dir,
            Some(version.to_owned()),
            policy,
            &Allowlist::default_list(),
        )
    }

    const BLOCKED: &str = r#"{"profile":{"content_settings":{"exceptions":{"loopback_network":{"https://cloudicweb.nhi.gov.tw:443,*":{"setting":2}}}}}}"#;
    const ALLOWED: &str = r#"{"profile":{"content_settings":{"exceptions":{"loopback_network":{"https://cloudicweb.nhi.gov.tw:443,*":{"setting":1}}}}}}"#;
    const LAN_ONLY: &str = r#"{"profile":{"content_settings":{"exceptions":{"local_network":{"https://cloudicweb.nhi.gov.tw:443,*":{"setting":2}}}}}}"#;

    fn ours() -> PolicyState {
        PolicyState {
            allow: vec![os::PolicyList {
                policy: os::ALLOW_POLICIES[0].into(),
                entries: Allowlist::default_list().browser_patterns(),
                source: "x".into(),
            }],
            ..PolicyState::default()
        }
    }

    #[test]
    fn each_verdict_from_what_the_profile_and_policy_say() {
        let none = PolicyState::default();
        let v = verdict(BLOCKED, "156.0.8078.73", &none);
        assert_eq!(v.access, Access::BlockedByUser);
        assert_eq!(v.site.as_deref(), Some("https://cloudicweb.nhi.gov.tw"));
        assert_eq!(
            verdict(ALLOWED, "156.0.1.2", &none).access,
            Access::AllowedByUser
        );
        assert_eq!(verdict("{}", "156.0.1.2", &none).access, Access::WillAsk);
        // 「區域網路」 does not gate loopback from 145 on; before the split it was the one setting.
        assert_eq!(
            verdict(LAN_ONLY, "156.0.1.2", &none).access,
            Access::WillAsk
        );
        // Our policy wins over the user's Block, as Chromium 156 showed.
        assert_eq!(
            verdict(BLOCKED, "156.0.1.2", &ours()).access,
            Access::AllowedByPolicy
        );
        let v = verdict("{\"profile\":", "156.0.1.2", &none);
        assert_eq!(v.access, Access::Unknown);
        assert!(v.detail.unwrap().contains("not JSON"));
    }

    #[test]
    fn a_policy_for_one_page_does_not_count_as_allowing_every_nhi_page() {
        let mut p = ours();
        p.allow[0].entries = vec!["https://cloudicweb.nhi.gov.tw".into()];
        assert_eq!(verdict("{}", "156.0.1.2", &p).access, Access::WillAsk);
    }

    #[test]
    fn the_setting_is_named_as_the_version_shows_it() {
        assert_eq!(setting_name(Some("156.0.1.2")).0, "裝置上的應用程式");
        assert_eq!(setting_name(Some("143.0.1.2")).1, "Local network access");
        assert_eq!(
            settings_url("chromium", "https://cloudicweb.nhi.gov.tw"),
            "chrome://settings/content/siteDetails?site=https%3A%2F%2Fcloudicweb.nhi.gov.tw"
        );
        assert!(settings_url("edge", "https://a").starts_with("edge://"));
    }

    #[test]
    fn guest_and_system_profiles_are_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        for d in [
            "Default",
            "Profile 1",
            "Guest Profile",
            "System Profile",
            "Crashpad",
        ] {
            std::fs::create_dir_all(tmp.path().join(d)).unwrap();
            if d != "Crashpad" {
                std::fs::write(tmp.path().join(d).join("Preferences"), "{}").unwrap();
            }
        }
        let names: Vec<_> = profile_dirs(tmp.path())
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["Default", "Profile 1"]);
    }
}
