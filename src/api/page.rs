//! The self-check page at `/` (元件檢測): what a user sees at https://127.0.0.1:7777/.
//!
//! Rendered on the server from the daemon's current picture, so it is a complete report with
//! JavaScript off; with JavaScript, it follows `/v1/status` and `/v1/events`, so inserting the card
//! turns its row green without a reload. zh-TW first with an English switch, a big verdict, and a
//! PII-free summary to copy for support. Self-contained: no external scripts, fonts or images, and
//! a strict Content-Security-Policy that allows only this page's own script and style (by hash)
//! and connections to its own origin. It never shows card-holder data.

use std::sync::OnceLock;

use http::header::{self, HeaderValue};
use serde::Serialize;
use warp::reply::Response;

use super::AppState;
use crate::diag::texts;
use crate::tls::trust::{self, HostsEntry};

const STYLE: &str = r#"
body{font-family:system-ui,"Noto Sans TC","Microsoft JhengHei","PingFang TC",sans-serif;max-width:46em;margin:1.5em auto;padding:0 1em;color:#1f2328}
h1{font-size:1.4em;margin:.2em 0}h1 small{font-weight:normal;color:#666;font-size:.6em}
.verdict{padding:1em 1.2em;border-radius:.6em;font-size:1.35em;margin:1em 0}
.ok .mark{color:#1a7f37}.fail .mark{color:#cf222e}.verdict.ok{background:#dafbe1}.verdict.fail{background:#ffebe9}
table{border-collapse:collapse;width:100%}td{border-bottom:1px solid #d0d7de;padding:.55em .4em;vertical-align:top}
td.mark{width:1.6em;font-size:1.2em}.fix{color:#57606a;font-size:.92em}
.en{color:#57606a}html[lang=en] .zh{display:none}html[lang=en] .en{color:inherit}
html[lang=zh-Hant-TW].js .en{display:none}
button{font-size:1em;padding:.4em .9em;margin:.3em .4em .3em 0;cursor:pointer}
pre{background:#f6f8fa;padding:.8em;white-space:pre-wrap;font-size:.85em}
"#;

const SCRIPT: &str = r#"
(function () {
  var html = document.documentElement;
  html.className = 'js';
  var T = JSON.parse(document.getElementById('texts').textContent);
  function set(id, ok, zh, en, fixZh, fixEn) {
    var row = document.getElementById('row-' + id);
    if (!row) return;
    row.className = ok ? 'ok' : 'fail';
    row.querySelector('.mark').textContent = ok ? '\u2714' : '\u2718';
    row.querySelector('.msg .zh').textContent = zh;
    row.querySelector('.msg .en').textContent = en;
    row.querySelector('.fix .zh').textContent = ok ? '' : (fixZh || '');
    row.querySelector('.fix .en').textContent = ok ? '' : (fixEn || '');
  }
  function verdict(ok) {
    var v = document.getElementById('verdict');
    v.className = 'verdict ' + (ok ? 'ok' : 'fail');
    v.querySelector('.zh').textContent = ok ? T.ready_zh : T.not_ready_zh;
    v.querySelector('.en').textContent = ok ? T.ready_en : T.not_ready_en;
  }
  var summary = {};
  function render(st) {
    var readers = st.readers || [];
    var withCard = readers.filter(function (r) { return r.card_present; }).map(function (r) { return r.name; });
    var up = st.pcsc === 'up';
    set('daemon', true, T.daemon_zh + ' ' + st.daemon.version, T.daemon_en + ' ' + st.daemon.version);
    set('pcsc', up, up ? T.pcsc_ok_zh : T.pcsc_bad_zh, up ? T.pcsc_ok_en : T.pcsc_bad_en, T.pcsc_fix_zh, T.pcsc_fix_en);
    var names = readers.map(function (r) { return r.name; }).join(', ');
    set('readers', readers.length > 0, readers.length ? T.readers_ok_zh + names : T.readers_bad_zh,
        readers.length ? T.readers_ok_en + names : T.readers_bad_en, T.readers_fix_zh, T.readers_fix_en);
    set('card', withCard.length > 0, withCard.length ? T.card_ok_zh + withCard.join(', ') : T.card_bad_zh,
        withCard.length ? T.card_ok_en + withCard.join(', ') : T.card_bad_en, T.card_fix_zh, T.card_fix_en);
    var hostsOk = document.getElementById('row-hosts').className === 'ok';
    verdict(up && readers.length > 0 && withCard.length > 0 && hostsOk);
    summary = { version: st.daemon.version, pcsc: st.pcsc, readers: readers.length, card: withCard.length > 0, hosts: hostsOk };
    document.getElementById('summary').textContent =
      'nhi-bridge ' + st.daemon.version + ' | PC/SC ' + st.pcsc + ' | readers ' + readers.length +
      ' | card ' + (withCard.length ? 'inserted' : 'none') + ' | hosts ' + (hostsOk ? 'ok' : 'missing') +
      ' | ' + new Date().toISOString();
  }
  function down() {
    set('daemon', false, T.daemon_down_zh, T.daemon_down_en, T.daemon_fix_zh, T.daemon_fix_en);
    verdict(false);
  }
  function refresh() {
    fetch('/v1/status', { cache: 'no-store' }).then(function (r) { return r.json(); }).then(render, down);
  }
  var events = new EventSource('/v1/events?token=' + encodeURIComponent(document.body.dataset.token));
  ['pcsc-up', 'pcsc-down', 'reader-added', 'reader-removed', 'card-inserted', 'card-removed'].forEach(function (name) {
    events.addEventListener(name, refresh);
  });
  events.onerror = function () { if (events.readyState === 2) down(); };
  document.getElementById('lang').addEventListener('click', function () {
    html.lang = html.lang === 'en' ? 'zh-Hant-TW' : 'en';
  });
  document.getElementById('copy').addEventListener('click', function () {
    var text = document.getElementById('summary').textContent;
    var done = function () { document.getElementById('copied').textContent = T.copied; };
    if (navigator.clipboard) { navigator.clipboard.writeText(text).then(done, done); } else { done(); }
  });
  refresh();
})();
"#;

/// The base64 SHA-256 of a page's inline script or style, for its Content-Security-Policy.
pub(crate) fn sha256_b64(s: &str) -> String {
    openssl::hash::hash(openssl::hash::MessageDigest::sha256(), s.as_bytes())
        .map(|d| openssl::base64::encode_block(&d))
        .unwrap_or_default()
}

/// The page's policy: its own script and style only (by hash), connections to itself only.
pub fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'sha256-{}'; connect-src 'self'; \
             img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            sha256_b64(SCRIPT),
            sha256_b64(STYLE)
        )
    })
}

/// Every sentence of the page, in one place, for the server rendering and for the script.
#[derive(Serialize)]
struct Texts {
    daemon_zh: &'static str,
    daemon_en: &'static str,
    daemon_down_zh: &'static str,
    daemon_down_en: &'static str,
    daemon_fix_zh: &'static str,
    daemon_fix_en: &'static str,
    pcsc_ok_zh: &'static str,
    pcsc_ok_en: &'static str,
    pcsc_bad_zh: &'static str,
    pcsc_bad_en: &'static str,
    pcsc_fix_zh: &'static str,
    pcsc_fix_en: &'static str,
    readers_ok_zh: &'static str,
    readers_ok_en: &'static str,
    readers_bad_zh: &'static str,
    readers_bad_en: &'static str,
    readers_fix_zh: &'static str,
    readers_fix_en: &'static str,
    card_ok_zh: &'static str,
    card_ok_en: &'static str,
    card_bad_zh: &'static str,
    card_bad_en: &'static str,
    card_fix_zh: &'static str,
    card_fix_en: &'static str,
    ready_zh: &'static str,
    ready_en: &'static str,
    not_ready_zh: &'static str,
    not_ready_en: &'static str,
    copied: &'static str,
}

// The sentences `nhi-bridge check` says too come from `diag::texts`.
const TEXTS: Texts = Texts {
    daemon_zh: "元件執行中，版本",
    daemon_en: "The component is running, version",
    daemon_down_zh: "與元件的連線中斷",
    daemon_down_en: "Lost the connection to the component",
    daemon_fix_zh: "請重新啟動「健保卡讀卡機元件」後重新整理此頁",
    daemon_fix_en: "Restart the component, then reload this page",
    pcsc_ok_zh: texts::PCSC_UP.zh,
    pcsc_ok_en: texts::PCSC_UP.en,
    pcsc_bad_zh: texts::PCSC_DOWN.zh,
    pcsc_bad_en: texts::PCSC_DOWN.en,
    pcsc_fix_zh: texts::PCSC_FIX.zh,
    pcsc_fix_en: texts::PCSC_FIX.en,
    readers_ok_zh: texts::READERS.zh,
    readers_ok_en: texts::READERS.en,
    readers_bad_zh: texts::NO_READER.zh,
    readers_bad_en: texts::NO_READER.en,
    readers_fix_zh: texts::NO_READER_FIX.zh,
    readers_fix_en: texts::NO_READER_FIX.en,
    card_ok_zh: texts::CARD_IN.zh,
    card_ok_en: texts::CARD_IN.en,
    card_bad_zh: texts::NO_CARD.zh,
    card_bad_en: texts::NO_CARD.en,
    card_fix_zh: texts::NO_CARD_FIX.zh,
    card_fix_en: texts::NO_CARD_FIX.en,
    ready_zh: "可以開始使用",
    ready_en: "Ready: you can go ahead",
    not_ready_zh: "尚未就緒：請依照下方標示 ✘ 的項目處理",
    not_ready_en: "Not ready yet: follow the items marked ✘ below",
    copied: "已複製 Copied",
};

/// `s` safe inside HTML text and attribute values.
pub(crate) fn escape(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

fn row(id: &str, ok: bool, zh: &str, en: &str, fix: Option<(&str, &str)>) -> String {
    let (fz, fe) = if ok {
        ("", "")
    } else {
        fix.unwrap_or(("", ""))
    };
    format!(
        r#"<tr id="row-{id}" class="{cls}"><td class="mark">{mark}</td><td><div class="msg"><span class="zh">{zh}</span> <span class="en" lang="en">{en}</span></div><div class="fix"><span class="zh">{fz}</span> <span class="en" lang="en">{fe}</span></div></td></tr>"#,
        cls = if ok { "ok" } else { "fail" },
        mark = if ok { "\u{2714}" } else { "\u{2718}" },
        zh = escape(zh),
        en = escape(en),
        fz = escape(fz),
        fe = escape(fe),
    )
}

/// The browsers' Local Network Access verdicts for the page, read off the async threads and
/// given up after 3 s (a slow disk or registry then leaves the rows out, not the page).
pub async fn browser_report(state: &AppState) -> Option<crate::browser::Report> {
    let home = directories::BaseDirs::new()?.home_dir().to_path_buf();
    let allow = state.allowlist.clone();
    let job = tokio::task::spawn_blocking(move || crate::browser::report(&home, &allow));
    tokio::time::timeout(std::time::Duration::from_secs(3), job)
        .await
        .ok()?
        .ok()
}

/// One row per Chromium-family profile where NHI pages are blocked or will be asked about (a
/// profile that lets them through needs no row on the citizen's page; `check` lists them all).
fn browser_rows(
    report: &crate::browser::Report,
    allow: &crate::config::Allowlist,
) -> (String, bool) {
    use crate::browser::{setting_name, settings_url, Access};
    let page = crate::browser::page_site(allow);
    let mut html = String::new();
    let mut blocked = false;
    for p in &report.profiles {
        let (zh_name, en_name) = setting_name(p.version.as_deref());
        let site = p.site.clone().unwrap_or_else(|| page.clone());
        let id = format!("browser-{}-{}", p.browser, p.profile.replace(' ', "_"));
        match p.access {
            Access::BlockedByUser | Access::BlockedByPolicy => {
                blocked = true;
                let url = settings_url(p.browser, &site);
                html.push_str(&row(
                    &id,
                    false,
                    &format!("{}（{}）已封鎖 {site} 的「{zh_name}」，健保署網頁會說找不到元件", p.browser_name, p.profile),
                    &format!("{} ({}) blocks {site} from \"{en_name}\": the NHI page will say the component is missing", p.browser_name, p.profile),
                    Some((
                        &format!("開啟 {url}，將「{zh_name}」改為「允許」後重新載入健保署網頁"),
                        &format!("Open {url}, set \"{en_name}\" to \"Allow\", then reload the NHI page"),
                    )),
                ));
            }
            Access::WillAsk => html.push_str(&row(
                &id,
                true,
                &format!("{}（{}）：健保署網頁第一次使用元件時，瀏覽器會詢問「存取這部裝置上的其他應用程式和服務」，請按「允許」", p.browser_name, p.profile),
                &format!("{} ({}): the first time the NHI page uses the component the browser asks to \"access other apps and services on this device\": choose \"Allow\"", p.browser_name, p.profile),
                None,
            )),
            _ => {}
        }
    }
    (html, blocked)
}

/// The self-check page (`GET /`), rendered from the daemon's snapshot.
pub fn status_page(state: &AppState, browsers: Option<&crate::browser::Report>) -> Response {
    let t = &TEXTS;
    let snap = state.service.snapshot();
    let version = env!("CARGO_PKG_VERSION");
    let names: Vec<&str> = snap.readers.keys().map(String::as_str).collect();
    let with_card: Vec<&str> = snap
        .readers
        .iter()
        .filter(|(_, c)| c.is_some())
        .map(|(n, _)| n.as_str())
        .collect();
    let hosts_ok = trust::hosts_entry(&trust::hosts_file()) == HostsEntry::Loopback;
    let (browser_html, browser_blocked) = browsers
        .map(|r| browser_rows(r, &state.allowlist))
        .unwrap_or_default();
    let ready =
        snap.pcsc_up && !names.is_empty() && !with_card.is_empty() && hosts_ok && !browser_blocked;
    let rows = [
        row(
            "daemon",
            true,
            &format!("{} {version}", t.daemon_zh),
            &format!("{} {version}", t.daemon_en),
            None,
        ),
        match state.contact.last() {
            Some((origin, at)) => {
                let local = chrono::DateTime::<chrono::Local>::from(at).format("%H:%M");
                row(
                    "pages",
                    true,
                    &format!("最近一次網頁連線：{local}，來自 {origin}"),
                    &format!("Last page contact: {local}, from {origin}"),
                    None,
                )
            }
            None => row(
                "pages",
                true,
                "元件啟動後尚無網頁連線（若健保署網頁顯示找不到元件，請在瀏覽器允許該網站使用「裝置上的應用程式」）",
                "No page has reached the component since it started (if the NHI page says the component is missing, allow the site \"Apps on device\" in the browser)",
                None,
            ),
        },
        row(
            "tls",
            true,
            "此頁以安全連線（HTTPS）開啟，瀏覽器信任元件的憑證",
            "This page opened over HTTPS: the browser trusts the component's certificate",
            None,
        ),
        row(
            "hosts",
            hosts_ok,
            if hosts_ok {
                texts::HOSTS_OK.zh
            } else {
                texts::HOSTS_MISSING.zh
            },
            if hosts_ok {
                texts::HOSTS_OK.en
            } else {
                texts::HOSTS_MISSING.en
            },
            Some((texts::TRUST_FIX.zh, texts::TRUST_FIX.en)),
        ),
        row(
            "pcsc",
            snap.pcsc_up,
            if snap.pcsc_up {
                t.pcsc_ok_zh
            } else {
                t.pcsc_bad_zh
            },
            if snap.pcsc_up {
                t.pcsc_ok_en
            } else {
                t.pcsc_bad_en
            },
            Some((t.pcsc_fix_zh, t.pcsc_fix_en)),
        ),
        row(
            "readers",
            !names.is_empty(),
            &if names.is_empty() {
                t.readers_bad_zh.to_owned()
            } else {
                format!("{}{}", t.readers_ok_zh, names.join(", "))
            },
            &if names.is_empty() {
                t.readers_bad_en.to_owned()
            } else {
                format!("{}{}", t.readers_ok_en, names.join(", "))
            },
            Some((t.readers_fix_zh, t.readers_fix_en)),
        ),
        row(
            "card",
            !with_card.is_empty(),
            &if with_card.is_empty() {
                t.card_bad_zh.to_owned()
            } else {
                format!("{}{}", t.card_ok_zh, with_card.join(", "))
            },
            &if with_card.is_empty() {
                t.card_bad_en.to_owned()
            } else {
                format!("{}{}", t.card_ok_en, with_card.join(", "))
            },
            Some((t.card_fix_zh, t.card_fix_en)),
        ),
    ]
    .join("\n");
    let rows = format!("{rows}\n{browser_html}");
    let summary = format!(
        "nhi-bridge {version} | PC/SC {} | readers {} | card {} | hosts {} | browser {}",
        if snap.pcsc_up { "up" } else { "down" },
        names.len(),
        if with_card.is_empty() {
            "none"
        } else {
            "inserted"
        },
        if hosts_ok { "ok" } else { "missing" },
        if browser_blocked { "blocked" } else { "ok" },
    );
    // `</` cannot occur in this JSON (no such sequence in the texts), so it cannot end the block.
    let texts = serde_json::to_string(&TEXTS).unwrap_or_else(|_| "{}".into());
    let html = format!(
        r#"<!doctype html>
<html lang="zh-Hant-TW"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>健保卡讀卡機元件檢測 nhi-bridge self-check</title>
<style>{STYLE}</style>
</head><body data-token="{token}">
<h1>健保卡讀卡機元件檢測 <small lang="en">nhi-bridge self-check · {version}</small></h1>
<div id="verdict" class="verdict {vcls}"><span class="zh">{vzh}</span> <span class="en" lang="en">{ven}</span></div>
<table>
{rows}
</table>
<p><button id="lang" type="button">English / 中文</button><button id="copy" type="button">複製摘要給客服 Copy summary for support</button> <span id="copied"></span></p>
<pre id="summary">{summary}</pre>
<p><span class="zh">完整檢測請執行 <code>nhi-bridge check</code>；此頁不顯示任何個人資料。</span> <span class="en" lang="en">For the full check run <code>nhi-bridge check</code>. This page shows no personal data.</span></p>
<script type="application/json" id="texts">{texts}</script>
<script>{SCRIPT}</script>
</body></html>
"#,
        vcls = if ready { "ok" } else { "fail" },
        vzh = if ready { t.ready_zh } else { t.not_ready_zh },
        ven = if ready { t.ready_en } else { t.not_ready_en },
        summary = escape(&summary),
        token = escape(state.page_token.as_str()),
    );
    let mut resp = Response::new(html.into());
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(csp()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}
