// One run of Chromium on a persistent user profile, as a citizen's browser starts: its own
// Preferences (the user's Allow/Block) and the machine's managed policies apply, nothing is
// granted by the harness. Serves tests/browser/fixture over HTTPS on 127.0.0.1:443 as a public
// address, opens SITE, awaits each expression in the page and prints one JSON line
// {"results": [...]}.
// Usage: node profile-flow.mjs USER_DATA_DIR HOME CERT KEY SITE EXPR...
import { chromium } from 'playwright-core';
import { serveFixture } from './fixture-server.mjs';

const [userData, home, cert, key, site, ...exprs] = process.argv.slice(2);
const server = await serveFixture(cert, key);

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
