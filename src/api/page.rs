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
use crate::diag::model::{PageFacts, PageModel};
use crate::service::card_service::CardCheck;
use crate::tls::trust::{self, HostsEntry};

const STYLE: &str = r#"
body{font-family:system-ui,"Noto Sans TC","Microsoft JhengHei","PingFang TC",sans-serif;max-width:46em;margin:1.5em auto;padding:0 1em;color:#1f2328}
h1{font-size:1.4em;margin:.2em 0}h1 small{font-weight:normal;color:#666;font-size:.6em}
.verdict{padding:1em 1.2em;border-radius:.6em;font-size:1.35em;margin:1em 0}
.ok .mark{color:#1a7f37}.fail .mark{color:#cf222e}.warn .mark{color:#9a6700}.wait .mark,.wait{color:#6e7781}.verdict.ok{background:#dafbe1}.verdict.fail{background:#ffebe9}
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
  var token = document.body.dataset.token;
  var events = null;
  var retry = null;
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }
  // Paints the rows the component sent; it decides nothing itself.
  function paint(m) {
    var table = document.getElementById('rows');
    while (table.firstChild) table.removeChild(table.firstChild);
    m.checks.forEach(function (c) {
      var state = c.waiting_for ? 'wait' : c.status;
      var tr = el('tr', state);
      tr.id = 'row-' + c.id.replace(/\s/g, '_');
      tr.appendChild(el('td', 'mark', state === 'ok' ? '\u2714' : state === 'warn' ? '!' : state === 'wait' ? '\u2026' : '\u2718'));
      var td = el('td');
      var msg = el('div', 'msg');
      msg.appendChild(el('span', 'zh', c.message_zh));
      msg.appendChild(document.createTextNode(' '));
      var en = el('span', 'en', c.message_en); en.lang = 'en'; msg.appendChild(en);
      var fix = el('div', 'fix');
      fix.appendChild(el('span', 'zh', c.fix_zh || ''));
      fix.appendChild(document.createTextNode(' '));
      var fen = el('span', 'en', c.fix_en || ''); fen.lang = 'en'; fix.appendChild(fen);
      td.appendChild(msg); td.appendChild(fix); tr.appendChild(td);
      table.appendChild(tr);
    });
    verdict(m.ready ? 'ok' : 'fail', m.ready ? T.ready_zh : T.not_ready_zh, m.ready ? T.ready_en : T.not_ready_en);
    document.getElementById('summary').textContent = m.summary + ' | ' + new Date().toISOString();
  }
  function verdict(cls, zh, en) {
    var v = document.getElementById('verdict');
    v.className = 'verdict ' + cls;
    v.querySelector('.zh').textContent = zh;
    v.querySelector('.en').textContent = en;
  }
  // The component stopped: say so at once, and watch for it to come back.
  function down() {
    if (events) { events.close(); events = null; }
    document.body.dataset.live = 'down';
    paint({ ready: false, summary: 'nhi-bridge | component not running', checks: [{
      id: 'daemon', status: 'fail', message_zh: T.daemon_down_zh, message_en: T.daemon_down_en,
      fix_zh: T.daemon_fix_zh, fix_en: T.daemon_fix_en }] });
    if (!retry) retry = setInterval(reconnect, 1000);
  }
  // A restarted component has a new page token: read it from its page, then follow it again.
  function reconnect() {
    fetch('/', { cache: 'no-store' }).then(function (r) { return r.text(); }).then(function (text) {
      var m = /data-token="([^"]+)"/.exec(text);
      if (!m) return;
      token = m[1];
      clearInterval(retry); retry = null;
      follow();
    }, function () {});
  }
  function refresh() {
    fetch('/selfcheck.json', { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (m) { document.body.dataset.live = 'up'; paint(m); }, down);
  }
  function follow() {
    events = new EventSource('/v1/events?token=' + encodeURIComponent(token));
    ['pcsc-up', 'pcsc-down', 'reader-added', 'reader-removed', 'card-inserted', 'card-removed'].forEach(function (name) {
      events.addEventListener(name, refresh);
    });
    events.onopen = refresh;
    // A closed or broken stream means the component went away (a stop, a crash): no silent retry
    // with a token that a restarted component would refuse.
    events.onerror = down;
  }
  document.getElementById('lang').addEventListener('click', function () {
    html.lang = html.lang === 'en' ? 'zh-Hant-TW' : 'en';
  });
  document.getElementById('copy').addEventListener('click', function () {
    var text = document.getElementById('summary').textContent;
    var done = function () { document.getElementById('copied').textContent = T.copied; };
    if (navigator.clipboard) { navigator.clipboard.writeText(text).then(done, done); } else { done(); }
  });
  follow();
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

/// The sentences the page's script needs itself (the rows come from the component).
#[derive(Serialize)]
struct Texts {
    daemon_down_zh: &'static str,
    daemon_down_en: &'static str,
    daemon_fix_zh: &'static str,
    daemon_fix_en: &'static str,
    ready_zh: &'static str,
    ready_en: &'static str,
    not_ready_zh: &'static str,
    not_ready_en: &'static str,
    copied: &'static str,
}

const TEXTS: Texts = Texts {
    daemon_down_zh: "元件未執行（已結束或無法連線）",
    daemon_down_en: "The component is not running (it stopped or cannot be reached)",
    daemon_fix_zh: if cfg!(windows) {
        "從「開始」選單開啟「啟動健保卡元件 Start nhi-bridge」；元件啟動後此頁會自動恢復"
    } else {
        "從應用程式選單開啟「啟動健保卡讀卡機元件」（或執行 systemctl --user start nhi-bridge）；元件啟動後此頁會自動恢復"
    },
    daemon_fix_en: if cfg!(windows) {
        "Open \"啟動健保卡元件 Start nhi-bridge\" from the Start menu; this page recovers by itself once it runs"
    } else {
        "Open \"Start nhi-bridge\" from the applications menu (or run `systemctl --user start nhi-bridge`); this page recovers by itself once it runs"
    },
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

fn row(c: &crate::diag::Check) -> String {
    use crate::diag::Status;
    let state = match (c.waiting_for, c.status) {
        (Some(_), _) => "wait",
        (None, Status::Ok) => "ok",
        (None, Status::Warn) => "warn",
        (None, Status::Fail) => "fail",
    };
    let mark = match state {
        "ok" => "\u{2714}",
        "warn" => "!",
        "wait" => "\u{2026}",
        _ => "\u{2718}",
    };
    format!(
        r#"<tr id="row-{id}" class="{state}"><td class="mark">{mark}</td><td><div class="msg"><span class="zh">{zh}</span> <span class="en" lang="en">{en}</span></div><div class="fix"><span class="zh">{fz}</span> <span class="en" lang="en">{fe}</span></div></td></tr>"#,
        id = escape(&c.id.replace(char::is_whitespace, "_")),
        zh = escape(&c.message_zh),
        en = escape(&c.message_en),
        fz = escape(c.fix_zh.as_deref().unwrap_or("")),
        fe = escape(c.fix_en.as_deref().unwrap_or("")),
    )
}

/// What the daemon knows for the page, gathered once. The page never reads the card itself (a
/// page of any site can load it): whether the card in the reader is an NHI card comes from the
/// daemon's own read at insertion (`prefetch`), which this waits for (at most 5 s) when it is
/// still under way.
pub async fn facts(state: &AppState) -> PageFacts {
    let snap = state.service.snapshot();
    let readers: Vec<String> = snap.readers.keys().cloned().collect();
    let with_card: Vec<String> = snap
        .readers
        .iter()
        .filter(|(_, c)| c.is_some())
        .map(|(n, _)| n.clone())
        .collect();
    let mut checks = state.service.card_checks();
    if !with_card.is_empty()
        && state.service.prefetches()
        && *checks.borrow_and_update() == CardCheck::Unknown
    {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), checks.changed()).await;
    }
    let card = *checks.borrow();
    let contact = state.contact.last().map(|(origin, at)| {
        let local = chrono::DateTime::<chrono::Local>::from(at).format("%H:%M");
        (origin, local.to_string())
    });
    PageFacts {
        version: env!("CARGO_PKG_VERSION"),
        contact,
        hosts_ok: trust::hosts_entry(&trust::hosts_file()) == HostsEntry::Loopback,
        pcsc_up: snap.pcsc_up,
        readers,
        with_card,
        card,
        browsers: crate::browser::report_for_user(&state.allowlist).await,
        page_site: crate::browser::page_site(&state.allowlist),
    }
}

/// `GET /selfcheck.json`: the page's rows for its script (no personal data; same-origin).
pub fn selfcheck_json(model: &PageModel) -> Response {
    let mut resp = super::json_response(http::StatusCode::OK, model);
    resp.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// The self-check page (`GET /`), rendered from the page's model.
pub fn status_page(state: &AppState, model: &PageModel) -> Response {
    let t = &TEXTS;
    let version = env!("CARGO_PKG_VERSION");
    let ready = model.ready;
    let rows: Vec<String> = model.checks.iter().map(row).collect();
    let rows = rows.join("\n");
    let summary = model.summary.clone();
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
<table id="rows">
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
