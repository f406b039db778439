//! The page at `/`: what a user sees when they open https://127.0.0.1:7777/ — whether the
//! component runs and what it sees, rendered on the server (works without JavaScript), with no
//! external resources and a strict Content-Security-Policy. It shows no card-holder data.

use http::header::{self, HeaderValue};
use warp::reply::Response;

use super::AppState;

pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; \
                       frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

fn escape(s: &str) -> String {
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

pub fn status_page(state: &AppState) -> Response {
    let snap = state.service.snapshot();
    let card = snap.readers.values().any(|c| c.is_some());
    let (verdict_zh, verdict_en, ok) = match (snap.pcsc_up, snap.readers.is_empty(), card) {
        (false, _, _) => (
            "讀卡機服務（PC/SC）未執行",
            "The PC/SC service is not running",
            false,
        ),
        (true, true, _) => (
            "找不到讀卡機，請接上讀卡機",
            "No card reader found; plug one in",
            false,
        ),
        (true, false, false) => ("請插入健保卡", "Insert the NHI card", false),
        (true, false, true) => (
            "元件運作正常，可以開始使用",
            "The component works; you can go ahead",
            true,
        ),
    };
    let rows: String = snap
        .readers
        .iter()
        .map(|(name, card)| {
            format!(
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(name),
                if card.is_some() {
                    "已插卡 card inserted"
                } else {
                    "無卡片 no card"
                }
            )
        })
        .collect();
    let html = format!(
        r#"<!doctype html>
<html lang="zh-Hant-TW"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>健保卡讀卡機元件 nhi-bridge</title>
<style>body{{font-family:system-ui,"Noto Sans TC","Microsoft JhengHei",sans-serif;max-width:40em;margin:2em auto;padding:0 1em;color:#222}}
.v{{padding:1em;border-radius:.5em;font-size:1.2em}}.ok{{background:#e6f4ea}}.no{{background:#fdecea}}
table{{border-collapse:collapse;width:100%}}td{{border-bottom:1px solid #ddd;padding:.4em}}small{{color:#666}}</style>
</head><body>
<h1>健保卡讀卡機元件 <small>nhi-bridge {version}</small></h1>
<p class="v {cls}">{verdict_zh}<br><small lang="en">{verdict_en}</small></p>
<p>讀卡機服務 PC/SC：{pcsc}</p>
<table>{rows}</table>
<p><small>已確認為可信任服務。此頁面不顯示任何個人資料。<br lang="en">This service is trusted by your browser. No personal data is shown on this page.</small></p>
</body></html>
"#,
        version = env!("CARGO_PKG_VERSION"),
        cls = if ok { "ok" } else { "no" },
        pcsc = if snap.pcsc_up {
            "運作中 up"
        } else {
            "未執行 down"
        },
    );
    let mut resp = Response::new(html.into());
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}
