//! The AuthHC popup (`/auth.html`): the small window NHI's client library opens on
//! `http://localhost:59001/auth.html` to run the six-step AuthHC chain against the component and
//! hand the merged result back to its opener with `postMessage` (protocol/legacy-nhi.md §2, issue
//! notes in docs/legacy.md).
//!
//! The official popup posts to `"*"` and takes messages from anyone, so any site could open it and
//! receive card data and a signature. This one never posts to `"*"`. A popup cannot read its
//! opener's origin, and browsers send no `Referer` from an https page to `http://localhost`, so
//! the server embeds the allowed origins that have reached the component since it started (NHI's
//! library probes `GetVersion` on 59001/59002 as the page loads, before any popup opens): the
//! popup greets each of them with an exact target origin — the browser drops every greeting whose
//! origin is not the opener's — and hears only messages from `window.opener` whose origin is one
//! of them, then works for and answers exactly that origin. Opened by any other site, it says
//! nothing, makes no request and ignores what it is sent. Its own API calls name the opener in
//! [`OPENER_HEADER`], which the guard checks against the allowlist again, so serving this page
//! widens nothing for other callers.

use std::sync::OnceLock;

use http::header::{self, HeaderValue};
use warp::reply::Response;

use super::page::{escape, sha256_b64};

/// The header the popup's own `/api/` requests carry: the origin of the page that opened it.
pub const OPENER_HEADER: &str = "x-nhi-bridge-opener";

/// Runs in the popup. Kept free of card data handling beyond passing the replies on.
const SCRIPT: &str = r#"
(function () {
  var body = document.body;
  var candidates = (body.getAttribute('data-openers') || '').split(' ').filter(Boolean);
  var opener = '';
  var ignored = 0, busy = false;
  function set(name, value) { body.setAttribute('data-' + name, String(value)); }
  function post(obj) { window.opener.postMessage(JSON.stringify(obj), opener); }
  function call(name, payload) {
    return fetch('/api/' + name, {
      method: 'POST', cache: 'no-store', credentials: 'omit',
      headers: { 'X-NHI-Bridge-Opener': opener },
      body: payload === undefined ? '' : JSON.stringify(payload)
    }).then(function (r) { return r.json(); });
  }
  function authHC(pin) {
    var merged = {};
    var steps = [
      function () { return call('GetVersion'); },
      function () { return call('GetRandom'); },
      function () { return call('GetBasic'); },
      function () { return call('SignHC', { random: merged.random }); },
      function () { return call('EncryptPwd', { pwd: pin }); },
      function () { return call('GetEncryptBasic', { pwd: pin }); }
    ];
    function next(i) {
      if (i === steps.length) { return Promise.resolve(merged); }
      return steps[i]().then(function (reply) {
        if (!reply || reply.result !== '0000') { return reply || { result: '8201' }; }
        for (var k in reply) { if (Object.prototype.hasOwnProperty.call(reply, k)) { merged[k] = reply[k]; } }
        return next(i + 1);
      });
    }
    return next(0);
  }
  window.addEventListener('message', function (e) {
    if (!window.opener || e.source !== window.opener || candidates.indexOf(e.origin) < 0
        || (opener && e.origin !== opener)) {
      set('ignored', ++ignored);
      return;
    }
    var msg;
    try { msg = JSON.parse(e.data); } catch (_) { set('ignored', ++ignored); return; }
    if (msg && msg.action === 'send_auth_pin_step1' && !busy) {
      busy = true;
      opener = e.origin;
      set('opener', opener);
      set('state', 'running');
      authHC(String(msg.pin === undefined ? '' : msg.pin))
        .catch(function () { return { result: '8201' }; })
        .then(function (result) {
          result.action = 'recv_auth_pin_step1';
          post(result);
          set('state', 'answered');
        });
    } else if (msg && msg.action === 'close') {
      window.close();
    }
  });
  if (!candidates.length || !window.opener) { set('state', 'refused'); return; }
  candidates.forEach(function (origin) {
    window.opener.postMessage(JSON.stringify({ action: 'ready' }), origin);
  });
  set('state', 'ready');
})();
"#;

/// Only this page's script, requests to its own origin, never framed.
fn csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        format!(
            "default-src 'none'; script-src 'sha256-{}'; connect-src 'self'; base-uri 'none'; \
             form-action 'none'; frame-ancestors 'none'",
            sha256_b64(SCRIPT)
        )
    })
}

/// `GET /auth.html`, greeting `origins` (allowed origins seen since start).
pub fn auth_page(origins: &[String]) -> Response {
    log::info!(
        "auth popup served; it greets {} allowed origin(s)",
        origins.len()
    );
    let mut resp = Response::new(render(origins).into());
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(csp()) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// The page, greeting `origins` (inert without any).
fn render(origins: &[String]) -> String {
    format!(
        "<!doctype html>\n<html lang=\"zh-Hant-TW\"><head><meta charset=\"utf-8\">\
         <title>健保卡元件 nhi-bridge</title></head>\
         <body data-openers=\"{}\" data-state=\"loading\">\
         <p>健保卡元件驗證中，請稍候…<br>nhi-bridge: checking the card…</p>\
         <script>{SCRIPT}</script></body></html>\n",
        escape(&origins.join(" "))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inert_page_embeds_no_opener_and_the_policy_allows_only_its_script() {
        let resp = auth_page(&[]);
        let csp = resp.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(csp.contains(&format!("'sha256-{}'", sha256_b64(SCRIPT))));
        assert!(csp.contains("frame-ancestors 'none'"));
        let body = render(&[]);
        assert!(body.contains("data-openers=\"\""), "{body}");
        let bound = render(&["https://a.nhi.gov.tw".into(), "https://b.nhi.gov.tw".into()]);
        assert!(bound.contains("data-openers=\"https://a.nhi.gov.tw https://b.nhi.gov.tw\""));
        // Never a wildcard target.
        assert!(!SCRIPT.contains("'*'") && !SCRIPT.contains("\"*\""));
        assert!(body.contains(&format!("<script>{SCRIPT}</script>")));
    }
}
