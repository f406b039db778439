// Opens one page in Chromium (CA trusted through HOME's NSS db) and keeps it open, driven one JSON
// command per stdin line, one JSON answer per stdout line — for tests that change the world under
// an open page (the component stopping and coming back, a card, pcscd):
//   {"cmd":"wait","expr":"…","timeout":2000}   until the expression is truthy; answers its value
//   {"cmd":"run","expr":"…"}                   the expression's value now
//   {"cmd":"shot","path":"…png"}                a screenshot of the whole page
// The first line answered is {"ok":"loaded"} once the page's script has run.
// Usage: node live-page.mjs URL HOME
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';

const [url, home] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  env: { ...process.env, HOME: home }, timeout: 30000,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-quic',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--lang=zh-TW'],
});
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
  let reloads = 0;
  page.on('load', () => { reloads += 1; });
  await page.goto(url);
  await page.waitForFunction(() => document.documentElement.className === 'js', null, { timeout: 15000 });
  say({ ok: 'loaded' });
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const c = JSON.parse(line);
    try {
      if (c.cmd === 'wait') {
        // Polled from here: the page's Content-Security-Policy forbids the eval that
        // waitForFunction would inject.
        const deadline = Date.now() + (c.timeout || 10000);
        let v = await page.evaluate(c.expr);
        while (!v && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          v = await page.evaluate(c.expr);
        }
        if (!v) throw new Error(`not true within ${c.timeout || 10000} ms: ${c.expr}`);
        say({ ok: v });
      } else if (c.cmd === 'run') {
        say({ ok: await page.evaluate(c.expr) });
      } else if (c.cmd === 'shot') {
        await page.screenshot({ path: c.path, fullPage: true });
        say({ ok: c.path });
      } else if (c.cmd === 'loads') {
        say({ ok: reloads });
      } else {
        say({ error: 'unknown command ' + c.cmd });
      }
    } catch (e) {
      say({ error: String(e) });
    }
  }
} finally {
  await browser.close();
}
