//! `nhi-bridge diagnose`: one `.tar.gz` for support staff — version, OS and desktop, the self-check,
//! the effective configuration, readers and ATRs, PC/SC state, the certificate's public details,
//! recent log lines and a manifest. It never contains card-holder data: the self-check shows the
//! card number masked, nothing else read from a card is ever logged or collected, and every line
//! packed is scanned by [`super::redact`] once more (a line that looks personal is withheld).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::write::GzEncoder;
use flate2::Compression;

use super::checks::Env;
use super::Report;
use crate::apdu::hex;
use crate::reader::Pcsc;
use crate::tls;

/// Log lines included.
pub const LOG_LINES: usize = 500;

/// `~/Downloads` (or home) / `nhi-bridge-diagnostics-<unix time>.tar.gz`.
pub fn default_path() -> PathBuf {
    let dirs = directories::UserDirs::new();
    let dir = dirs
        .as_ref()
        .and_then(|d| d.download_dir().map(Path::to_path_buf))
        .filter(|d| d.is_dir())
        .or_else(|| dirs.as_ref().map(|d| d.home_dir().to_path_buf()))
        .unwrap_or_else(|| PathBuf::from("."));
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    dir.join(format!("nhi-bridge-diagnostics-{secs}.tar.gz"))
}

fn system_text() -> String {
    let mut s = format!(
        "os: {}\narch: {}\nfamily: {}\n",
        std::env::consts::OS,
        std::env::consts::ARCH,
        std::env::consts::FAMILY
    );
    for f in ["/etc/os-release", "/proc/version"] {
        if let Ok(t) = std::fs::read_to_string(f) {
            s.push_str(&format!("\n# {f}\n{t}"));
        }
    }
    s.push_str("\n# desktop\n");
    for var in [
        "XDG_CURRENT_DESKTOP",
        "DESKTOP_SESSION",
        "XDG_SESSION_TYPE",
        "WAYLAND_DISPLAY",
        "DISPLAY",
        "LANG",
    ] {
        s.push_str(&format!(
            "{var}={}\n",
            std::env::var(var).unwrap_or_default()
        ));
    }
    s
}

fn readers_json() -> serde_json::Value {
    let pcsc = Pcsc::new();
    match pcsc.readers() {
        Ok(list) => serde_json::json!({
            "pcsc": "up",
            "readers": list.iter().map(|r| serde_json::json!({
                "name": r.name,
                "card_present": r.card_present,
                "atr": r.card_present.then(|| hex(&r.atr)),
                "mute": r.mute,
                "event_count": r.event_count,
            })).collect::<Vec<_>>(),
        }),
        Err(e) => serde_json::json!({ "pcsc": "down", "error": e.to_string() }),
    }
}

/// Writes the bundle to `out`; returns the names of the files in it.
pub fn write(out: &Path, env: &Env, report: &Report) -> std::io::Result<Vec<String>> {
    let mut files: Vec<(String, Vec<u8>)> = vec![
        (
            "version.txt".into(),
            format!(
                "nhi-bridge {}\nbuilt for {}-{}\n",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::ARCH,
                std::env::consts::OS
            )
            .into_bytes(),
        ),
        ("system.txt".into(), system_text().into_bytes()),
        (
            "check.json".into(),
            serde_json::to_vec_pretty(report).unwrap_or_default(),
        ),
        (
            "config.toml".into(),
            toml::to_string(&env.config)
                .unwrap_or_default()
                .into_bytes(),
        ),
        (
            // Each browser profile's verdict and the managed policies (no history, no URLs but
            // the NHI site a choice was recorded for).
            "browsers.json".into(),
            env.home
                .as_deref()
                .map(|home| crate::browser::report(home, &env.config.allowlist()))
                .and_then(|r| serde_json::to_vec_pretty(&r).ok())
                .unwrap_or_else(|| b"{}".to_vec()),
        ),
        (
            "readers.json".into(),
            serde_json::to_vec_pretty(&readers_json()).unwrap_or_default(),
        ),
        (
            "certificate.json".into(),
            match tls::status(&tls::Paths::new(&env.data_dir)) {
                Ok(s) => serde_json::to_vec_pretty(&s).unwrap_or_default(),
                Err(e) => format!("{{\"error\": {:?}}}", e.to_string()).into_bytes(),
            },
        ),
        (
            "log-tail.txt".into(),
            crate::logging::tail(&env.data_dir, LOG_LINES)
                .join("\n")
                .into_bytes(),
        ),
    ];
    let mut withheld = Vec::new();
    for (name, body) in files.iter_mut() {
        // JSON is scanned value by value (a withheld value is replaced inside its field, the file
        // stays JSON); everything else line by line.
        if name.ends_with(".json") {
            if let Ok(mut doc) = serde_json::from_slice::<serde_json::Value>(body) {
                let n = super::redact::scrub_json(&mut doc);
                if n > 0 {
                    withheld.push(format!("{name}: {n} value(s) withheld"));
                    *body = serde_json::to_vec_pretty(&doc).unwrap_or_default();
                }
                continue;
            }
        }
        let (clean, n) = super::redact::scrub(&String::from_utf8_lossy(body));
        if n > 0 {
            withheld.push(format!("{name}: {n} line(s) withheld"));
            *body = clean.into_bytes();
        }
    }
    let mut manifest = format!(
        "nhi-bridge diagnostics bundle\nversion: {}\ncreated (unix time): {}\ncontains no card-holder data; the card number appears masked (last 4 digits)\nlines that looked like card-holder data: {}\n\n",
        env!("CARGO_PKG_VERSION"),
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        if withheld.is_empty() { "none".to_owned() } else { withheld.join("; ") }
    );
    for (name, body) in &files {
        manifest.push_str(&format!("{name}\t{} bytes\n", body.len()));
    }
    files.insert(0, ("MANIFEST.txt".into(), manifest.into_bytes()));

    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::File::create(out)?;
    let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::default()));
    let mtime = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for (name, body) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o600);
        h.set_mtime(mtime);
        h.set_cksum();
        tar.append_data(
            &mut h,
            format!("nhi-bridge-diagnostics/{name}"),
            body.as_slice(),
        )?;
    }
    tar.into_inner()?.finish()?.flush()?;
    Ok(files.into_iter().map(|(n, _)| n).collect())
}
