//! Windows: browsers' profiles under `%LOCALAPPDATA%`, their managed policies in the registry
//! (`HKLM` over `HKCU`, `SOFTWARE\Policies\<vendor>`), read and changed through `reg.exe`.
//!
//! Our entries in a list policy are remembered under `HKLM\SOFTWARE\nhi-bridge\BrowserPolicy`
//! (one value per browser, policy and pattern), so `revoke` removes exactly those and closes the
//! gap it leaves (Chromium stops reading a list at the first missing number); an entry that was
//! there before us is never recorded as ours, so never removed.

use std::ffi::OsStr;
use std::os::windows::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use std::collections::BTreeMap;

use super::registry::{
    compaction, leaf, list_from_query, list_from_values, parse_reg_query, parse_sections, RegList,
};
use super::{
    Browser, PolicyChange, PolicyError, PolicyList, PolicyState, ToolError, ALLOW_POLICIES,
    BLOCK_POLICIES, WRITTEN_POLICIES,
};

const REG_TIMEOUT: Duration = Duration::from_secs(20);
/// No console window flashes when the tray (a GUI program) reads the policies.
const CREATE_NO_WINDOW: u32 = 0x0800_0000;
const MARKERS: &str = r"HKLM\SOFTWARE\nhi-bridge\BrowserPolicy";

pub fn user_data_dirs(browser: Browser, _home: &Path) -> Vec<PathBuf> {
    let Some(local) = std::env::var_os("LOCALAPPDATA").map(PathBuf::from) else {
        return Vec::new();
    };
    let rel = match browser {
        Browser::Chrome => r"Google\Chrome\User Data",
        Browser::Chromium => r"Chromium\User Data",
        Browser::Edge => r"Microsoft\Edge\User Data",
        Browser::Brave => r"BraveSoftware\Brave-Browser\User Data",
    };
    vec![local.join(rel)]
}

fn vendor(browser: Browser) -> &'static str {
    match browser {
        Browser::Chrome => r"Google\Chrome",
        Browser::Chromium => "Chromium",
        Browser::Edge => r"Microsoft\Edge",
        Browser::Brave => r"BraveSoftware\Brave",
    }
}

fn reg(args: &[&str]) -> Result<String, ToolError> {
    let mut cmd = Command::new("reg");
    cmd.args(args.iter().map(OsStr::new));
    cmd.creation_flags(CREATE_NO_WINDOW);
    super::run_command(cmd, "reg", "reg.exe is part of Windows", REG_TIMEOUT)
}

/// `reg query KEY`; a key that does not exist is empty.
fn query(key: &str) -> Result<String, ToolError> {
    match reg(&["query", key]) {
        Err(ToolError::Failed { code: Some(1), .. }) => Ok(String::new()),
        other => other,
    }
}

fn add(key: &str, name: &str, data: &str) -> Result<(), ToolError> {
    reg(&["add", key, "/v", name, "/t", "REG_SZ", "/d", data, "/f"]).map(drop)
}

fn delete(key: &str, name: &str) -> Result<(), ToolError> {
    reg(&["delete", key, "/v", name, "/f"]).map(drop)
}

fn marker(browser: Browser, policy: &str, pattern: &str) -> String {
    format!("{}|{policy}|{pattern}", browser.id())
}

pub fn read_policy(browser: Browser) -> PolicyState {
    let machine = format!(r"HKLM\SOFTWARE\Policies\{}", vendor(browser));
    let user = format!(r"HKCU\SOFTWARE\Policies\{}", vendor(browser));
    let mut st = PolicyState {
        location: machine.clone(),
        ..PolicyState::default()
    };
    // One `reg query /s` per root: the browser's whole policy tree, every list in it.
    let mut trees = Vec::new();
    for root in [&machine, &user] {
        match query_tree(root) {
            Ok(t) => trees.push((root, t)),
            Err(e) => st.problems.push(format!("{root}: {e}")),
        }
    }
    for (names, block) in [(&ALLOW_POLICIES, false), (&BLOCK_POLICIES, true)] {
        for name in names.iter() {
            // The machine's list wins over the user's (lists are not merged).
            for (root, tree) in &trees {
                let Some(values) = tree
                    .iter()
                    .find_map(|(k, v)| (leaf(k) == *name).then_some(v))
                else {
                    continue;
                };
                let key = format!(r"{root}\{name}");
                let list = list_from_values(values);
                if let Some(gap) = list.gap() {
                    st.problems.push(format!(
                        "{key}: no value {gap}; the browser ignores the entries after it"
                    ));
                }
                let entries = list.effective();
                if entries.is_empty() {
                    continue;
                }
                let l = PolicyList {
                    policy: (*name).to_owned(),
                    entries,
                    source: key,
                };
                if block {
                    st.block.push(l);
                } else {
                    st.allow.push(l);
                }
                break;
            }
        }
    }
    match query(MARKERS) {
        Ok(out) => {
            let prefix = format!("{}|", browser.id());
            st.ours = parse_reg_query(&out).keys().any(|k| k.starts_with(&prefix));
        }
        Err(e) => st.problems.push(format!("{MARKERS}: {e}")),
    }
    st
}

/// Every subkey of `key` with its values (`reg query KEY /s`); a missing key is empty.
fn query_tree(key: &str) -> Result<BTreeMap<String, BTreeMap<String, String>>, ToolError> {
    match reg(&["query", key, "/s"]) {
        Err(ToolError::Failed { code: Some(1), .. }) => Ok(BTreeMap::new()),
        other => other.map(|out| parse_sections(&out)),
    }
}

pub fn write_policy(browser: Browser, patterns: &[String]) -> Result<PolicyChange, PolicyError> {
    let base = format!(r"HKLM\SOFTWARE\Policies\{}", vendor(browser));
    let mut changed = false;
    for policy in WRITTEN_POLICIES {
        let key = format!(r"{base}\{policy}");
        let mut list: RegList = list_from_query(&query(&key)?);
        for pattern in patterns {
            if list.find(pattern).is_some() {
                continue;
            }
            let n = list.first_free();
            add(&key, &n.to_string(), pattern)?;
            add(MARKERS, &marker(browser, policy, pattern), &n.to_string())?;
            list.numbered.insert(n, pattern.clone());
            changed = true;
        }
    }
    Ok(if changed {
        PolicyChange::Written(base)
    } else {
        PolicyChange::Unchanged(base)
    })
}

pub fn remove_policy(browser: Browser) -> Result<PolicyChange, PolicyError> {
    let base = format!(r"HKLM\SOFTWARE\Policies\{}", vendor(browser));
    let prefix = format!("{}|", browser.id());
    let ours: Vec<String> = parse_reg_query(&query(MARKERS)?)
        .into_keys()
        .filter(|k| k.starts_with(&prefix))
        .collect();
    if ours.is_empty() {
        return Ok(PolicyChange::Absent(base));
    }
    for name in ours {
        let mut parts = name.splitn(3, '|').skip(1);
        let (Some(policy), Some(pattern)) = (parts.next(), parts.next()) else {
            continue;
        };
        let key = format!(r"{base}\{policy}");
        let list = list_from_query(&query(&key)?);
        if let Some(n) = list.find(pattern) {
            delete(&key, &n.to_string())?;
            for (from, to) in compaction(&list, n) {
                if let Some(v) = list.numbered.get(&from) {
                    add(&key, &to.to_string(), v)?;
                    delete(&key, &from.to_string())?;
                }
            }
        }
        delete(MARKERS, &name)?;
    }
    Ok(PolicyChange::Removed(base))
}
