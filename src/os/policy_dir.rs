//! A Chromium managed-policy directory (Linux: `/etc/opt/chrome/policies/managed` and the like).
//! The browser reads every `*.json` file in it in name order, and where several files set the
//! same policy the last one wins: lists are not merged (Chromium's ConfigDirPolicyLoader). Ours
//! is one file, [`OUR_FILE`], written and removed whole; no other file is ever opened for
//! writing.
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::{
    PolicyChange, PolicyError, PolicyList, PolicyState, ALLOW_POLICIES, BLOCK_POLICIES,
    WRITTEN_POLICIES,
};
use crate::atomic_file::{self, Mode};

/// Our file's name in each policy directory.
pub const OUR_FILE: &str = "nhi-bridge.json";

/// The policies in force in `dir`, as the browser reads them.
pub fn read(dir: &Path) -> PolicyState {
    let mut st = PolicyState {
        location: dir.display().to_string(),
        ..PolicyState::default()
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return st,
        Err(e) => {
            st.problems.push(format!("{}: {e}", dir.display()));
            return st;
        }
    };
    let mut files: Vec<_> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json") && p.is_file())
        .collect();
    files.sort();
    let mut allow: BTreeMap<&str, PolicyList> = BTreeMap::new();
    let mut block: BTreeMap<&str, PolicyList> = BTreeMap::new();
    for file in files {
        let source = file.display().to_string();
        if file.file_name().is_some_and(|n| n == OUR_FILE) {
            st.ours = true;
        }
        let text = match std::fs::read(&file) {
            Ok(t) => t,
            Err(e) => {
                st.problems.push(format!("{source}: {e}"));
                continue;
            }
        };
        let obj = match serde_json::from_slice::<Value>(&text) {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                st.problems.push(format!(
                    "{source}: not a JSON object; the browser ignores this file"
                ));
                continue;
            }
            Err(e) => {
                st.problems.push(format!(
                    "{source}: not JSON ({e}); the browser ignores this file"
                ));
                continue;
            }
        };
        for (names, into) in [(&ALLOW_POLICIES, &mut allow), (&BLOCK_POLICIES, &mut block)] {
            for name in names.iter() {
                let Some(value) = obj.get(*name) else {
                    continue;
                };
                match string_list(value) {
                    Some(entries) => {
                        into.insert(
                            name,
                            PolicyList {
                                policy: (*name).to_owned(),
                                entries,
                                source: source.clone(),
                            },
                        );
                    }
                    None => st.problems.push(format!(
                        "{source}: {name} is not a list of strings; ignored"
                    )),
                }
            }
        }
    }
    if st.ours {
        st.ours_shadowed_by = WRITTEN_POLICIES.iter().find_map(|p| {
            allow
                .get(p)
                .filter(|l| !l.source.ends_with(OUR_FILE))
                .map(|l| l.source.clone())
        });
    }
    st.allow = allow.into_values().collect();
    st.block = block.into_values().collect();
    st
}

fn string_list(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|e| e.as_str().map(str::to_owned))
        .collect()
}

/// Our file's exact bytes for `patterns`.
pub fn our_file(patterns: &[String]) -> Vec<u8> {
    let mut obj = serde_json::Map::new();
    for name in WRITTEN_POLICIES {
        obj.insert(
            name.to_owned(),
            Value::Array(patterns.iter().cloned().map(Value::String).collect()),
        );
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(obj)).unwrap_or_default();
    text.push('\n');
    text.into_bytes()
}

/// Writes our file in `dir` (made, world-readable, when missing). The same bytes already there
/// are left alone; our file, if it cannot be parsed, is not overwritten blindly either.
pub fn write(dir: &Path, patterns: &[String]) -> Result<PolicyChange, PolicyError> {
    let path = dir.join(OUR_FILE);
    let body = our_file(patterns);
    let location = path.display().to_string();
    match std::fs::read(&path) {
        Ok(old) if old == body => return Ok(PolicyChange::Unchanged(location)),
        Ok(old) => {
            if let Err(e) = serde_json::from_slice::<Value>(&old) {
                return Err(PolicyError::Unparsable {
                    path,
                    detail: e.to_string(),
                });
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(PolicyError::Io { path, source }),
    }
    make_dirs(dir)?;
    // Every user's browser reads it: 0644, whatever the umask.
    atomic_file::replace(&path, &body, Mode::Exact(0o644)).map_err(|source| PolicyError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(PolicyChange::Written(location))
}

/// Makes `dir` and its missing parents 0755 (the process's umask is 077).
fn make_dirs(dir: &Path) -> Result<(), PolicyError> {
    let mut missing = Vec::new();
    let mut at = Some(dir);
    while let Some(d) = at {
        if d.is_dir() {
            break;
        }
        missing.push(d);
        at = d.parent();
    }
    for d in missing.into_iter().rev() {
        std::fs::create_dir(d)
            .or_else(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    Ok(())
                } else {
                    Err(e)
                }
            })
            .map_err(|source| PolicyError::Io {
                path: d.to_path_buf(),
                source,
            })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).map_err(
                |source| PolicyError::Io {
                    path: d.to_path_buf(),
                    source,
                },
            )?;
        }
    }
    Ok(())
}

/// Removes our file from `dir`, then `dir` and up to `levels` parents that this leaves empty
/// (the directories `write` may have made); every other file and non-empty directory stays.
pub fn remove(dir: &Path, levels: usize) -> Result<PolicyChange, PolicyError> {
    let path = dir.join(OUR_FILE);
    let location = path.display().to_string();
    match std::fs::remove_file(&path) {
        Ok(()) => {
            let mut at = Some(dir);
            for _ in 0..=levels {
                match at {
                    Some(d) if std::fs::remove_dir(d).is_ok() => at = d.parent(),
                    _ => break,
                }
            }
            Ok(PolicyChange::Removed(location))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(PolicyChange::Absent(location)),
        Err(source) => Err(PolicyError::Io { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats() -> Vec<String> {
        vec!["https://[*.]nhi.gov.tw".to_owned()]
    }

    #[test]
    fn write_is_idempotent_and_revoke_leaves_other_files_byte_identical() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("policies/managed");
        let other = br#"{"HomepageLocation": "https://example.org"}"#;
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("corp.json"), other).unwrap();
        assert!(matches!(write(&dir, &pats()), Ok(PolicyChange::Written(_))));
        assert!(matches!(
            write(&dir, &pats()),
            Ok(PolicyChange::Unchanged(_))
        ));
        let st = read(&dir);
        assert!(st.ours && st.ours_shadowed_by.is_none(), "{st:?}");
        let names: Vec<_> = st.allow.iter().map(|l| l.policy.as_str()).collect();
        assert_eq!(names, WRITTEN_POLICIES);
        assert!(st.allow.iter().all(|l| l.entries == pats()));
        assert!(matches!(remove(&dir, 2), Ok(PolicyChange::Removed(_))));
        assert!(matches!(remove(&dir, 2), Ok(PolicyChange::Absent(_))));
        assert_eq!(std::fs::read(dir.join("corp.json")).unwrap(), other);
        assert!(!read(&dir).ours);
        // A directory the policy alone needed goes with it; the top stays.
        let only = tmp.path().join("opt/edge/policies/managed");
        write(&only, &pats()).unwrap();
        remove(&only, 2).unwrap();
        assert!(!tmp.path().join("opt/edge").exists());
        assert!(tmp.path().join("opt").exists());
    }

    #[test]
    #[cfg(unix)]
    fn made_directories_and_our_file_are_readable_by_every_user() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("opt/chrome/policies/managed");
        write(&dir, &pats()).unwrap();
        for d in [tmp.path().join("opt"), dir.clone()] {
            assert_eq!(
                std::fs::metadata(&d).unwrap().permissions().mode() & 0o777,
                0o755
            );
        }
        let mode = std::fs::metadata(dir.join(OUR_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn the_last_file_wins_and_a_later_file_shadows_ours() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        write(dir, &pats()).unwrap();
        std::fs::write(
            dir.join("zz-corp.json"),
            r#"{"LocalNetworkAccessAllowedForUrls": ["https://intranet.example"]}"#,
        )
        .unwrap();
        let st = read(dir);
        assert_eq!(
            st.ours_shadowed_by.as_deref(),
            Some(&*dir.join("zz-corp.json").display().to_string())
        );
        let lna = st
            .allow
            .iter()
            .find(|l| l.policy == ALLOW_POLICIES[0])
            .unwrap();
        assert_eq!(lna.entries, ["https://intranet.example"]);
    }

    #[test]
    fn broken_files_are_reported_and_never_rewritten() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        std::fs::write(
            dir.join("broken.json"),
            b"{\"LocalNetworkAccessAllowedForUrls\": [",
        )
        .unwrap();
        std::fs::write(
            dir.join("odd.json"),
            br#"{"LoopbackNetworkAllowedForUrls": "x"}"#,
        )
        .unwrap();
        let st = read(dir);
        assert_eq!(st.problems.len(), 2, "{st:?}");
        assert!(st.allow.is_empty());
        // Our own file, corrupted: not overwritten.
        std::fs::write(dir.join(OUR_FILE), b"{trunc").unwrap();
        assert!(matches!(
            write(dir, &pats()),
            Err(PolicyError::Unparsable { .. })
        ));
        assert_eq!(std::fs::read(dir.join(OUR_FILE)).unwrap(), b"{trunc");
    }
}
