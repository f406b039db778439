//! Linux: browsers' profiles under `~/.config` (and Snap's and Flatpak's homes), their managed
//! policies in JSON directories under `/etc`.

use std::path::{Path, PathBuf};

use super::{policy_dir, Browser, PolicyChange, PolicyError, PolicyState};

pub fn user_data_dirs(browser: Browser, home: &Path) -> Vec<PathBuf> {
    let rel: &[&str] = match browser {
        Browser::Chrome => &[
            ".config/google-chrome",
            ".var/app/com.google.Chrome/config/google-chrome",
        ],
        Browser::Chromium => &[
            ".config/chromium",
            "snap/chromium/common/chromium",
            ".var/app/org.chromium.Chromium/config/chromium",
        ],
        Browser::Edge => &[
            ".config/microsoft-edge",
            ".var/app/com.microsoft.Edge/config/microsoft-edge",
        ],
        Browser::Brave => &[
            ".config/BraveSoftware/Brave-Browser",
            ".var/app/com.brave.Browser/config/BraveSoftware/Brave-Browser",
        ],
    };
    rel.iter().map(|r| home.join(r)).collect()
}

/// The mandatory-policy directory each browser reads.
fn policy_dir(browser: Browser) -> &'static Path {
    Path::new(match browser {
        Browser::Chrome => "/etc/opt/chrome/policies/managed",
        Browser::Chromium => "/etc/chromium/policies/managed",
        Browser::Edge => "/etc/opt/edge/policies/managed",
        Browser::Brave => "/etc/brave/policies/managed",
    })
}

pub fn read_policy(browser: Browser) -> PolicyState {
    policy_dir::read(policy_dir(browser))
}

pub fn write_policy(browser: Browser, patterns: &[String]) -> Result<PolicyChange, PolicyError> {
    policy_dir::write(policy_dir(browser), patterns)
}

pub fn remove_policy(browser: Browser) -> Result<PolicyChange, PolicyError> {
    // `managed`, `policies` and the browser's own directory, if we left them empty.
    policy_dir::remove(policy_dir(browser), 2)
}
