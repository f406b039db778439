//! macOS: browsers' profiles under `~/Library/Application Support`. Managed policies there are
//! configuration profiles (`/Library/Managed Preferences/<bundle id>.plist`), installed through
//! MDM or System Settings, not files a program may write: we report them as not read and write
//! none (docs/self-check.md says how IT sets the same policy in a profile).

use std::path::{Path, PathBuf};

use super::{Browser, PolicyChange, PolicyError, PolicyState};

pub fn user_data_dirs(browser: Browser, home: &Path) -> Vec<PathBuf> {
    let rel = match browser {
        Browser::Chrome => "Library/Application Support/Google/Chrome",
        Browser::Chromium => "Library/Application Support/Chromium",
        Browser::Edge => "Library/Application Support/Microsoft Edge",
        Browser::Brave => "Library/Application Support/BraveSoftware/Brave-Browser",
    };
    vec![home.join(rel)]
}

fn bundle(browser: Browser) -> &'static str {
    match browser {
        Browser::Chrome => "com.google.Chrome",
        Browser::Chromium => "org.chromium.Chromium",
        Browser::Edge => "com.microsoft.Edge",
        Browser::Brave => "com.brave.Browser",
    }
}

pub fn read_policy(browser: Browser) -> PolicyState {
    let location = format!("/Library/Managed Preferences/{}.plist", bundle(browser));
    let mut st = PolicyState {
        location: location.clone(),
        ..PolicyState::default()
    };
    if Path::new(&location).exists() {
        st.problems.push(format!(
            "{location}: configuration profiles are not read here"
        ));
    }
    st
}

const UNSUPPORTED: &str =
    "macOS: browser policies come from a configuration profile (see self-check.md in the documentation)";

pub fn write_policy(_browser: Browser, _patterns: &[String]) -> Result<PolicyChange, PolicyError> {
    Err(PolicyError::Unsupported(UNSUPPORTED))
}

pub fn remove_policy(_browser: Browser) -> Result<PolicyChange, PolicyError> {
    Err(PolicyError::Unsupported(UNSUPPORTED))
}
