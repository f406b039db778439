// The installed component seen by its user's Chromium: no certificate flags, the CA trusted only
// through $HOME/.pki/nssdb (which the component set up itself). Loads the self-check page over
// https://127.0.0.1:7777 and https://iccert.nhi.gov.tw:7777 and waits for the page's live
// verdict to be green (the simulated card is in). Exits non-zero on any certificate error.
// Usage: node installed-page.mjs USER_DATA_DIR
import { chromium } from 'playwright-core';

const [profile] = process.argv.slice(2);
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  timeout: 30000,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-quic',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const results = [];
  for (const origin of ['https://127.0.0.1:7777', 'https://iccert.nhi.gov.tw:7777']) {
    const page = await context.newPage();
    // A certificate error makes goto throw (net::ERR_CERT_AUTHORITY_INVALID).
    const response = await page.goto(`${origin}/`);
    if (!response || response.status() !== 200) throw new Error(`${origin}: status ${response && response.status()}`);
    await page.waitForFunction(() => document.documentElement.className === 'js'
      && document.getElementById('verdict').className.includes('ok'), null, { timeout: 20000 });
    results.push(`${origin} green`);
    await page.close();
  }
  console.log(`Chromium as the user: ${results.join(', ')}`);
} finally {
  await context.close();
}
