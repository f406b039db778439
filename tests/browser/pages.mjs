// Serves tests/browser/fixture over HTTPS on 127.0.0.1:443 (the test maps cloudicweb.nhi.gov.tw and
// evil.example there with --host-resolver-rules) and drives Chromium on it, one JSON command per
// stdin line, one JSON answer per stdout line:
//   {"cmd":"open","origin":"https://…","grant":true}    a fresh context (LNA granted or not) + page
//   {"cmd":"run","expr":"Fixture.hsign()"}               awaits an expression in the page
//   {"cmd":"wait","expr":"…","timeout":2000}             until the expression is truthy in the page
//   {"cmd":"popup","expr":"…","timeout":5000}            the same in the newest popup window
//   {"cmd":"requests"}                                   URLs the page made requests to
// Usage: node pages.mjs HOME CERT KEY [public]   ("public": the fixture server is a public address)
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';
import { serveFixture } from './fixture-server.mjs';

const [home, cert, key, mode] = process.argv.slice(2);
const server = await serveFixture(cert, key);

const args = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-quic',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-popup-blocking',
  '--host-resolver-rules=MAP iccert.nhi.gov.tw 127.0.0.1, MAP cloudicweb.nhi.gov.tw 127.0.0.1, MAP evil.example 127.0.0.1'];
if (mode === 'public') args.push('--ip-address-space-overrides=127.0.0.1:443=public');
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  env: { ...process.env, HOME: home }, timeout: 30000, args,
});
let context = null;
let page = null;
let requests = [];
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
try {
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const c = JSON.parse(line);
    try {
      if (c.cmd === 'open') {
        if (context) await context.close();
        context = await browser.newContext();
        if (c.grant) await context.grantPermissions(['local-network-access'], { origin: c.origin });
        page = await context.newPage();
        if (!c.grant && mode === 'public') {
          // The user said no (a stored "block", rather than a prompt left open).
          const cdp = await context.newCDPSession(page);
          await cdp.send('Browser.setPermission', {
            permission: { name: 'local-network-access' }, setting: 'denied', origin: c.origin,
          });
        }
        requests = [];
        page.on('request', (r) => requests.push(r.url()));
        await page.goto(c.origin + '/' + (c.query || ''));
        await page.waitForSelector('body[data-ready]', { state: 'attached', timeout: 10000 });
        say({ ok: true });
      } else if (c.cmd === 'run') {
        say({ ok: await page.evaluate(c.expr) });
      } else if (c.cmd === 'wait') {
        await page.waitForFunction(c.expr, null, { timeout: c.timeout || 10000 });
        say({ ok: await page.evaluate(c.expr) });
      } else if (c.cmd === 'popup') {
        const pages = context.pages().filter((p) => p !== page);
        const popup = pages.length ? pages[pages.length - 1] : await context.waitForEvent('page', { timeout: 10000 });
        await popup.waitForFunction(c.expr, null, { timeout: c.timeout || 10000 });
        say({ ok: await popup.evaluate(c.expr) });
      } else if (c.cmd === 'requests') {
        say({ ok: requests });
      } else {
        say({ error: 'unknown command ' + c.cmd });
      }
    } catch (e) {
      say({ error: String(e && e.message || e) });
    }
  }
} finally {
  await browser.close();
  server.close();
}
