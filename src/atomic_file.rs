//! Replacing a file all at once: the new content goes to a uniquely named temporary file beside
//! the target (created 0600, so nothing is readable before its mode is set), is synced, then
//! renamed over the target. A crash or power cut leaves the old file or the new one, never a
//! truncated mix, and a failure removes the temporary file.

use std::io::Write;
use std::path::Path;

/// What mode and owner the new file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Exactly these permission bits (unix; ignored elsewhere), owned by the caller.
    Exact(u32),
    /// The mode and owner of the file being replaced; `Exact(fallback)` when there is none.
    KeepOr(u32),
}

/// Writes `bytes` to `path` atomically with `mode`.
pub fn replace(path: &Path, bytes: &[u8], mode: Mode) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Dropped (and so deleted) on every early return below.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let old = std::fs::metadata(path).ok();
        let bits = match (mode, &old) {
            (Mode::KeepOr(_), Some(m)) => m.mode() & 0o7777,
            (Mode::KeepOr(b) | Mode::Exact(b), _) => b,
        };
        if let (Mode::KeepOr(_), Some(m)) = (mode, &old) {
            // Only root can give a file away; anyone else already owns what they write.
            if rustix::process::geteuid().is_root() {
                std::os::unix::fs::chown(tmp.path(), Some(m.uid()), Some(m.gid()))?;
            }
        }
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(bits))?;
    }
    #[cfg(not(unix))]
    let _ = mode;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn new_files_get_the_exact_mode_and_no_temp_file_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("leaf.key");
        replace(&key, b"secret", Mode::Exact(0o600)).unwrap();
        assert_eq!(mode(&key), 0o600);
        // A stale, world-readable file of the same name does not lend its mode.
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        replace(&key, b"secret2", Mode::Exact(0o600)).unwrap();
        assert_eq!(mode(&key), 0o600);
        assert_eq!(std::fs::read(&key).unwrap(), b"secret2");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("leaf.key")]);
    }

    #[test]
    fn replacing_keeps_the_old_mode() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = dir.path().join("hosts");
        std::fs::write(&hosts, "a\r\n").unwrap();
        std::fs::set_permissions(&hosts, std::fs::Permissions::from_mode(0o640)).unwrap();
        replace(&hosts, b"b\r\n", Mode::KeepOr(0o644)).unwrap();
        assert_eq!(mode(&hosts), 0o640);
        assert_eq!(std::fs::read(&hosts).unwrap(), b"b\r\n");
        let fresh = dir.path().join("fresh");
        replace(&fresh, b"x", Mode::KeepOr(0o644)).unwrap();
        assert_eq!(mode(&fresh), 0o644);
    }

    #[test]
    fn a_failed_write_leaves_the_target_and_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // The target is a directory: the rename fails after the temp file was written.
        let target = dir.path().join("sub");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("keep"), b"k").unwrap();
        assert!(replace(&target, b"x", Mode::Exact(0o600)).is_err());
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("sub")]);
    }
}
