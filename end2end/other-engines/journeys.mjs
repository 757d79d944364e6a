// Flow A and flow B (SPEC §3) in Firefox and WebKit, over WebDriver classic
// (WebdriverIO as a library). Playwright's own Firefox and WebKit builds
// cannot be downloaded here, so ../other-engines.sh starts Debian's
// browsers' drivers and the server, then runs this.
//
// Environment: KAISEN_BASE_URL (the server), GECKODRIVER_PORT and
// WEBKITDRIVER_PORT (the drivers, already running), ENGINES (default
// "firefox,webkit").
import { remote } from 'webdriverio';

const base = process.env.KAISEN_BASE_URL ?? 'http://127.0.0.1:3919';

/** The engines: the driver's port and the session's capabilities. */
const engines = {
  firefox: {
    port: Number(process.env.GECKODRIVER_PORT ?? 4444),
    capabilities: {
      browserName: 'firefox',
      'moz:firefoxOptions': {
        binary: '/usr/lib/firefox-esr/firefox-esr',
        args: ['-headless', '-width', '1280', '-height', '900'],
        prefs: { 'intl.accept_languages': 'ja' },
      },
    },
  },
  webkit: {
    port: Number(process.env.WEBKITDRIVER_PORT ?? 4445),
    capabilities: {
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': {
        binary: '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser',
        args: ['--automation'],
      },
    },
  },
};

/** The lines (fixtures/lines.json) each journey uses on this script's own server. */
const lines = {
  firefox: { flowA: 34, flowB: 35 },
  webkit: { flowA: 36, flowB: 37 },
};

const heading = {
  login: 'サービス申込受付ページ',
  top: 'ご利用サービス一覧',
  detail: '回線情報通知 ご利用状況詳細',
  add: '回線情報通知「通知」設定登録',
  consent: '「回線情報通知」の利用にあたっての同意書',
  applicant: '回線情報通知 申込者情報入力',
  confirm: '回線情報通知 変更内容確認',
  complete: '回線情報通知 変更受付完了',
};

/** `CAF10000000nn` / `E2e-Key-nn`. */
function line(n) {
  const nn = String(n).padStart(2, '0');
  return { customerId: `CAF10000000${nn}`, accessKey: `E2e-Key-${nn}` };
}

/** An XPath string literal for `text` (no quotes in our labels). */
const lit = (text) => `"${text}"`;

/** Waits for the screen whose h1 is `name`. */
async function expectScreen(browser, name) {
  await browser.waitUntil(async () => {
    const h1 = await browser.$('h1');
    return (await h1.isExisting()) && (await h1.getText()).trim() === name;
  }, { timeout: 15_000, timeoutMsg: `no screen 「${name}」 (at ${await browser.getUrl()})` });
}

/** Clicks the button whose text is exactly `name`, once it is enabled. */
async function press(browser, name) {
  const button = await browser.$(`//button[normalize-space()=${lit(name)}]`);
  await button.waitForEnabled({ timeout: 15_000 });
  await button.click();
}

/** Waits for an element whose text is exactly `text`. */
async function expectText(browser, text) {
  await browser.$(`//*[normalize-space()=${lit(text)}]`).waitForDisplayed({ timeout: 15_000 });
}

async function loginAndOpenDetail(browser, me) {
  await browser.url(`${base}/`);
  await expectScreen(browser, heading.login);
  await (await browser.$('#customer_id')).setValue(me.customerId);
  await (await browser.$('#access_key')).setValue(me.accessKey);
  await press(browser, 'ログイン');
  await expectScreen(browser, heading.top);
  await expectText(browser, `お客さまID: ${me.customerId}`);
  await press(browser, '詳細・変更');
  await expectScreen(browser, heading.detail);
}

/** S4 → S7; returns the お申し込みID. */
async function agreeEnterAndSubmit(browser) {
  await expectScreen(browser, heading.consent);
  await press(browser, '同意する');
  await expectScreen(browser, heading.applicant);
  // Nothing entered: our error summary, focused (no browser bubble).
  await press(browser, '次へ');
  const summary = await browser.$('.error-summary');
  await summary.waitForDisplayed({ timeout: 15_000 });
  await browser.waitUntil(async () => browser.execute(() => document.activeElement?.classList.contains('error-summary')), {
    timeout: 5_000,
    timeoutMsg: 'the error summary has not the focus',
  });
  await (await browser.$('#name')).setValue('山田 太郎');
  await (await browser.$('#phone')).setValue('03-1234-5678');
  await (await browser.$('#email')).setValue('taro@example.jp');
  await (await browser.$(`//label[normalize-space()=${lit('希望する')}]/input`)).click();
  await press(browser, '次へ');
  await expectScreen(browser, heading.confirm);
  await press(browser, '変更');
  await expectScreen(browser, heading.complete);
  const id = await browser.$('.application-id');
  await browser.waitUntil(async () => /^\d{16}$/.test((await id.getText()).trim()), {
    timeout: 15_000,
    timeoutMsg: 'no お申し込みID on the receipt',
  });
  return (await id.getText()).trim();
}

async function flowA(browser, me) {
  await loginAndOpenDetail(browser, me);
  await (await browser.$('#select-P0001')).click();
  await press(browser, '「通知しない」に設定');
  return agreeEnterAndSubmit(browser);
}

async function flowB(browser, me) {
  await loginAndOpenDetail(browser, me);
  await press(browser, '通知先追加');
  await expectScreen(browser, heading.add);
  await expectText(browser, '(ページ 1/3 ページ)');
  await (await browser.$('#add-P0004')).click();
  await press(browser, '次のページ');
  await expectText(browser, '(ページ 2/3 ページ)');
  await (await browser.$('#add-P0030')).click();
  await expectText(browser, '選択中: 2件');
  await press(browser, '「通知する」に設定');
  return agreeEnterAndSubmit(browser);
}

const wanted = (process.env.ENGINES ?? 'firefox,webkit').split(',').filter(Boolean);
let failed = 0;
let passed = 0;
for (const name of wanted) {
  const engine = engines[name];
  if (!engine) throw new Error(`unknown engine ${name}`);
  let browser;
  try {
    browser = await remote({
      hostname: '127.0.0.1',
      port: engine.port,
      logLevel: 'error',
      capabilities: { ...engine.capabilities, 'wdio:enforceWebDriverClassic': true },
    });
    await browser.setWindowSize(1280, 900).catch(() => {});
    for (const [journey, run] of [['flow A', flowA], ['flow B', flowB]]) {
      const started = Date.now();
      try {
        // Each journey starts logged out: a fresh session cookie.
        await browser.deleteAllCookies().catch(() => {});
        const id = await run(browser, line(lines[name][journey === 'flow A' ? 'flowA' : 'flowB']));
        console.log(`✓ ${name} › ${journey} (receipt ${id}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
        passed++;
      } catch (e) {
        console.log(`✘ ${name} › ${journey}: ${e instanceof Error ? e.message : e}`);
        failed++;
      }
    }
  } catch (e) {
    console.log(`✘ ${name}: no session: ${e instanceof Error ? e.message : e}`);
    failed += 2;
  } finally {
    await browser?.deleteSession().catch(() => {});
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
