// Opens the daemon's self-check page in Chromium (CA trusted through HOME's NSS db), reports its
// state, waits for "go" on stdin (the test inserts the card), waits for the card row to turn green
// without a reload, and saves a screenshot.
// Usage: node self-check.mjs PORT HOME SCREENSHOT.png
import { chromium } from 'playwright-core';
import { createInterface } from 'node:readline';

const [port, home, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  env: { ...process.env, HOME: home },
  timeout: 30000,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-quic',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--lang=zh-TW', '--font-render-hinting=none'],
});
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 760 } });
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`https://127.0.0.1:${port}/`);
  // The script has run once it marks the document.
  await page.waitForFunction(() => document.documentElement.className === 'js'
    && document.getElementById('summary').textContent.includes('T'), null, { timeout: 15000 });
  const state = async () => page.evaluate(() => ({
    card: document.getElementById('row-card').className,
    verdict: document.getElementById('verdict').className,
    summary: document.getElementById('summary').textContent,
    english_hidden: getComputedStyle(document.querySelector('#verdict .en')).display === 'none',
  }));
  console.log(JSON.stringify({ stage: 'loaded', ...(await state()), errors, requests }));
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) { if (line.trim() === 'go') break; }
  await page.waitForFunction(() => document.getElementById('row-card').className === 'ok', null, { timeout: 20000 });
  await page.screenshot({ path: shot, fullPage: true });
  await page.click('#lang');
  const zhHidden = await page.evaluate(() => getComputedStyle(document.querySelector('#verdict .zh')).display === 'none');
  console.log(JSON.stringify({ stage: 'after', ...(await state()), zh_hidden_in_english: zhHidden, errors, requests }));
  rl.close();
} finally {
  await browser.close();
}
