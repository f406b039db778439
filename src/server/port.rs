//! Who holds a TCP port, for the "port already in use" message (the old official component uses
//! 7777 too). Linux reads /proc; elsewhere the holder is not looked up.

/// A process listening on the port, if one can be found: (pid, command line).
pub fn holder(port: u16) -> Option<(u32, String)> {
    #[cfg(target_os = "linux")]
    {
        linux::holder(port)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = port;
        None
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::fs;

    /// Socket inodes listening on `port`, from /proc/net/tcp and tcp6.
    fn listening_inodes(port: u16) -> Vec<String> {
        let mut out = Vec::new();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            let Ok(text) = fs::read_to_string(table) else {
                continue;
            };
            for line in text.lines().skip(1) {
                let cols: Vec<&str> = line.split_whitespace().collect();
                // local_address is HEXIP:HEXPORT; st 0A is LISTEN; inode is column 9.
                let (Some(local), Some(state), Some(inode)) =
                    (cols.get(1), cols.get(3), cols.get(9))
                else {
                    continue;
                };
                let port_hex = local.rsplit(':').next().unwrap_or("");
                if *state == "0A" && u16::from_str_radix(port_hex, 16) == Ok(port) {
                    out.push((*inode).to_owned());
                }
            }
        }
        out
    }

    pub fn holder(port: u16) -> Option<(u32, String)> {
        let inodes = listening_inodes(port);
        if inodes.is_empty() {
            return None;
        }
        for entry in fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(fds) = fs::read_dir(entry.path().join("fd")) else {
                continue;
            };
            for fd in fds.flatten() {
                let Ok(target) = fs::read_link(fd.path()) else {
                    continue;
                };
                let target = target.to_string_lossy();
                let owned = inodes
                    .iter()
                    .any(|i| target == format!("socket:[{i}]").as_str());
                if owned {
                    let cmd = fs::read(entry.path().join("cmdline"))
                        .map(|b| {
                            b.split(|&c| c == 0)
                                .filter(|s| !s.is_empty())
                                .map(|s| String::from_utf8_lossy(s).into_owned())
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .unwrap_or_default();
                    return Some((pid, cmd));
                }
            }
        }
        None
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn finds_this_process_listening() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (pid, cmd) = super::holder(port).expect("holder found");
        assert_eq!(pid, std::process::id());
        assert!(!cmd.is_empty());
        drop(l);
        assert_eq!(super::holder(port), None);
    }
}
