// Drives real Chromium through legacy-page.html served as a page of PAGE_ORIGIN, against the
// daemon on PORT, and prints what the page ended with as one JSON line.
// Usage: node legacy-flow.mjs PORT HOME_WITH_NSSDB PAGE_ORIGIN
import { chromium } from 'playwright-core';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const [port, home, pageOrigin] = process.argv.slice(2);
const html = readFileSync(fileURLToPath(new URL('./legacy-page.html', import.meta.url)), 'utf8');

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  env: { ...process.env, HOME: home },
  timeout: 30000,
  args: [
    '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-quic',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    // The page connects to wss://iccert.nhi.gov.tw, which the installer maps to 127.0.0.1.
    '--host-resolver-rules=MAP iccert.nhi.gov.tw 127.0.0.1',
  ],
});
try {
  const context = await browser.newContext();
  try {
    await context.grantPermissions(['local-network-access'], { origin: pageOrigin });
  } catch (_) { /* older browsers have no such permission */ }
  const page = await context.newPage();
  // Only the page itself is served by Playwright; the daemon is reached for real.
  await page.route(pageOrigin + '/**', (route) =>
    route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: html }));
  await page.goto(`${pageOrigin}/register?port=${port}`);
  await page.waitForSelector('body:not([data-state="running"])', { state: 'attached', timeout: 45000 });
  const out = await page.evaluate(() => ({
    state: document.body.getAttribute('data-state'),
    message: document.getElementById('msg').textContent,
    basic: document.getElementById('hidBasic').value,
    version: document.getElementById('hidVersion').value,
    random: document.getElementById('hidRandom').value,
    sign: document.getElementById('hidSign').value,
  }));
  console.log(JSON.stringify(out));
} finally {
  await browser.close();
}
