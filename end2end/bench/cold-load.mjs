// Cold load to interactive, for `cargo xtask bench`: loads the portal's
// login page RUNS times in headless Chromium, each time in a new browser
// context (an empty cache), and prints one JSON line: per run, the ms from
// navigation start until the client has drawn the login form (its
// 「ログイン」 button, with its handlers, exists), and the bytes the page
// transferred for it (not the lazy file of the screens after S0, which S0
// fetches once it is drawn).
//
// With `slow-4g`, every load goes through Chromium's network emulation at
// a phone's slow 4G: 150 ms latency, 1.6 Mbit/s down, 750 kbit/s up
// (the profile of Chrome's DevTools and Lighthouse).
//
// usage: node bench/cold-load.mjs URL RUNS [slow-4g]
import { chromium } from '@playwright/test';

const [url, runs = '20', network = 'loopback'] = process.argv.slice(2);
const slow4g = { offline: false, latency: 150, downloadThroughput: (1.6e6 / 8) | 0, uploadThroughput: (750e3 / 8) | 0 };
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});
const times = [];
const transfers = [];
try {
  for (let i = 0; i < Number(runs); i++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    if (network === 'slow-4g') {
      const cdp = await context.newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', slow4g);
    } else if (network !== 'loopback') {
      throw new Error(`unknown network ${network}`);
    }
    // Injected by the browser itself, so the page's CSP does not apply.
    await page.addInitScript(() => {
      const seen = () => {
        if (window.__interactive === undefined && document.querySelector('button[type=submit]')) {
          window.__interactive = performance.now();
        }
      };
      new MutationObserver(seen).observe(document, { childList: true, subtree: true });
    });
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForFunction(() => window.__interactive !== undefined, null, { timeout: 30_000 });
    const { ms, bytes } = await page.evaluate(() => ({
      ms: window.__interactive,
      bytes: performance
        .getEntries()
        .filter((e) => e.transferSize !== undefined && !e.name.includes('/assets/lazy-'))
        .reduce((sum, e) => sum + e.transferSize, 0),
    }));
    times.push(ms);
    transfers.push(bytes);
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify({ times, transfers }));
