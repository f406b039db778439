//! Chromium's list policies in the Windows registry, as text: what `reg query` prints, and the
//! rule the browser reads a list by (values named `1`, `2`, … up to the first missing number;
//! anything after a gap is ignored). Pure functions, so they are tested on every system; the
//! registry itself is reached from `windows.rs` through `reg.exe`.
#![cfg_attr(not(windows), allow(dead_code))]

use std::collections::BTreeMap;

/// The numbered values of one list-policy key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegList {
    /// Numbered values (`1` → entry); values with other names are not list entries.
    pub numbered: BTreeMap<u32, String>,
}

impl RegList {
    /// The entries the browser uses: `1`, `2`, … up to the first missing number.
    pub fn effective(&self) -> Vec<String> {
        (1..)
            .map_while(|n| self.numbered.get(&n).cloned())
            .collect()
    }

    /// The first missing number, when entries follow it (the browser ignores those).
    pub fn gap(&self) -> Option<u32> {
        let first_free = self.first_free();
        self.numbered
            .keys()
            .any(|n| *n > first_free)
            .then_some(first_free)
    }

    /// The smallest number not in use (where a new entry goes, so none is hidden by a gap).
    pub fn first_free(&self) -> u32 {
        (1..).find(|n| !self.numbered.contains_key(n)).unwrap_or(1)
    }

    /// The number holding `entry`, if any.
    pub fn find(&self, entry: &str) -> Option<u32> {
        self.numbered
            .iter()
            .find_map(|(n, v)| (v == entry).then_some(*n))
    }
}

/// The `REG_SZ` values of `reg query KEY`'s output: name → data.
pub fn parse_reg_query(out: &str) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for line in out.lines() {
        // "    NAME    REG_SZ    DATA": indented, fields four spaces apart; the key's own
        // line is not indented.
        if !line.starts_with(' ') {
            continue;
        }
        let mut parts = line.trim_start().splitn(3, "    ");
        let (Some(name), Some(kind), data) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if kind.trim() == "REG_SZ" {
            values.insert(name.to_owned(), data.unwrap_or("").trim_end().to_owned());
        }
    }
    values
}

/// `reg query KEY /s`'s output by key: each key's full name (as printed, e.g.
/// `HKEY_LOCAL_MACHINE\SOFTWARE\…`) → its `REG_SZ` values.
pub fn parse_sections(out: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut body = String::new();
    let mut flush = |key: &Option<String>, body: &mut String| {
        if let Some(k) = key {
            sections
                .entry(k.clone())
                .or_default()
                .extend(parse_reg_query(body));
        }
        body.clear();
    };
    for line in out.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        if line.starts_with(' ') {
            body.push_str(line);
            body.push('\n');
        } else {
            flush(&current, &mut body);
            current = Some(line.to_owned());
        }
    }
    flush(&current, &mut body);
    sections
}

/// The last component of a key's name (`…\LocalNetworkAccessAllowedForUrls` → that).
pub fn leaf(key: &str) -> &str {
    key.rsplit('\\').next().unwrap_or(key)
}

/// A numbered list from a key's values.
pub fn list_from_values(values: &BTreeMap<String, String>) -> RegList {
    RegList {
        numbered: values
            .iter()
            .filter_map(|(k, v)| {
                // "1", not "01" or "+1": the browser looks the names up as printed numbers.
                let n = k
                    .parse::<u32>()
                    .ok()
                    .filter(|n| n.to_string() == *k && *n > 0)?;
                Some((n, v.clone()))
            })
            .collect(),
    }
}

/// The numbered list in `reg query`'s output.
pub fn list_from_query(out: &str) -> RegList {
    list_from_values(&parse_reg_query(out))
}

/// The moves that close the hole left by removing value `removed`: each later contiguous entry
/// one number down, as (from, to). Entries past an earlier gap are not moved.
pub fn compaction(list: &RegList, removed: u32) -> Vec<(u32, u32)> {
    (removed + 1..)
        .take_while(|n| list.numbered.contains_key(n))
        .map(|n| (n, n - 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome\\LocalNetworkAccessAllowedForUrls\r\n    1    REG_SZ    https://corp.example\r\n    2    REG_SZ    https://[*.]nhi.gov.tw\r\n    4    REG_SZ    https://after.gap\r\n    note    REG_DWORD    0x1\r\n    01    REG_SZ    https://not.a.number\r\n\r\n";

    #[test]
    fn reads_entries_as_the_browser_does_and_finds_the_gap() {
        let list = list_from_query(OUT);
        assert_eq!(
            list.effective(),
            ["https://corp.example", "https://[*.]nhi.gov.tw"]
        );
        assert_eq!(list.gap(), Some(3));
        assert_eq!(list.first_free(), 3);
        assert_eq!(list.find("https://[*.]nhi.gov.tw"), Some(2));
        assert_eq!(list.find("https://after.gap"), Some(4));
        assert_eq!(compaction(&list, 1), vec![(2, 1)]);
        let sections = parse_sections(&format!(
            "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome\r\n    HomepageLocation    REG_SZ    https://x\r\n{OUT}"
        ));
        assert_eq!(sections.len(), 2);
        let (key, values) = sections
            .iter()
            .find(|(k, _)| leaf(k) == "LocalNetworkAccessAllowedForUrls")
            .unwrap();
        assert!(key.starts_with("HKEY_LOCAL_MACHINE"));
        assert_eq!(list_from_values(values), list);
        let none = list_from_query("");
        assert_eq!(
            (none.effective().len(), none.gap(), none.first_free()),
            (0, None, 1)
        );
    }
}
