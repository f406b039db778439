// One run of Chromium on a persistent user profile, as a citizen's browser starts: its own
// Preferences (the user's Allow/Block) and the machine's managed policies apply, nothing is
// granted by the harness. Serves tests/browser/fixture over HTTPS on 127.0.0.1:443 as a public
// address, opens SITE, awaits each expression in the page and prints one JSON line
// {"results": [...]}.
// Usage: node profile-flow.mjs USER_DATA_DIR HOME CERT KEY SITE EXPR...
import { chromium } from 'playwright-core';
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [userData, home, cert, key, site, ...exprs] = process.argv.slice(2);
const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const files = {
  '/': ['text/html; charset=utf-8', readFileSync(here('./fixture/index.html'))],
  '/nhi-client.js': ['text/javascript', readFileSync(here('./fixture/nhi-client.js'))],
  '/jquery.js': ['text/javascript', readFileSync(here('./node_modules/jquery/dist/jquery.min.js'))],
};
const server = createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
  const f = files[new URL(req.url, 'https://x').pathname];
  if (!f) { res.writeHead(404); res.end(); return; }
  res.writeHead(200, { 'Content-Type': f[0], 'Cache-Control': 'no-store' });
  res.end(f[1]);
});
await new Promise((ok, fail) => { server.once('error', fail); server.listen(443, '127.0.0.1', ok); });

const context = await chromium.launchPersistentContext(userData, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  env: { ...process.env, HOME: home }, timeout: 30000,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-quic',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--host-resolver-rules=MAP iccert.nhi.gov.tw 127.0.0.1, MAP cloudicweb.nhi.gov.tw 127.0.0.1',
    '--ip-address-space-overrides=127.0.0.1:443=public'],
});
let code = 0;
try {
  const page = context.pages()[0] || await context.newPage();
  await page.goto(site + '/');
  await page.waitForSelector('body[data-ready]', { state: 'attached', timeout: 10000 });
  const results = [];
  for (const e of exprs) results.push(await page.evaluate(e));
  process.stdout.write(JSON.stringify({ results }) + '\n');
} catch (e) {
  process.stdout.write(JSON.stringify({ error: String(e) }) + '\n');
  code = 1;
} finally {
  await context.close();
  server.close();
}
process.exit(code);
