/**
 * S0 ログイン and 「ログアウト」: credentials, their normalisation, no data
 * of the line after the session has ended, and `/` leading a live session
 * to S1.
 */
import type { BrowserContext, Page } from '@playwright/test';
import { expect, failedFetch, test } from './fixtures';
import { expectScreen, heading, line, login, loginAs, openDetail } from './helpers';

/** Full-width lower case, as some subscribers type it: `CAF…` → `ｃａｆ…`. */
function fullWidthLowerCase(s: string): string {
  return [...s.toLowerCase()].map((c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).join('');
}

test('「ログアウト」 ends the session: neither back nor /top shows the line again', async ({ page, browserErrors }) => {
  // The pages opened after logout ask the server, which answers 401.
  browserErrors.allow(failedFetch(401));
  const me = line(18);
  const customerId = page.getByText(`お客さまID: ${me.customerId}`);
  await loginAs(page, me);
  await openDetail(page);

  await page.getByRole('button', { name: 'ログアウト', exact: true }).click();
  await expectScreen(page, heading.login);
  await expect(page.getByRole('status')).toHaveText('ログアウトしました');
  await expect(page.getByRole('button', { name: 'ログアウト' })).toHaveCount(0);

  await page.goBack();
  await expectScreen(page, heading.login);
  await expect(page.getByRole('status')).toHaveText('ログインしてください');
  await expect(customerId).toHaveCount(0);
  await expect(page.getByRole('checkbox')).toHaveCount(0);

  await page.goto('/top');
  await expectScreen(page, heading.login);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('status')).toHaveText('ログインしてください');
  await expect(customerId).toHaveCount(0);
});

test('a wrong key or an unknown ID gets one message that says neither', async ({ page, browserErrors }) => {
  browserErrors.allow(failedFetch(401));
  const me = line(19);
  const message = 'フレッツナンバーまたはアクセスキーが正しくありません';
  await page.goto('/');
  const loginButton = page.getByRole('button', { name: 'ログイン', exact: true });

  await loginButton.click();
  await expect(page.getByRole('alert')).toContainText('フレッツナンバーを入力してください');
  await expect(page.getByRole('alert')).toContainText('アクセスキーを入力してください');

  await page.getByLabel('フレッツナンバー').fill(me.customerId);
  await page.getByLabel('アクセスキー').fill(`${me.accessKey}x`);
  await loginButton.click();
  await expect(page.getByRole('alert')).toHaveText(new RegExp(message));
  await expect(page).toHaveTitle(/^エラー：/);
  await expectScreen(page, heading.login);

  await page.getByLabel('フレッツナンバー').fill('CAF1999999999');
  await page.getByLabel('アクセスキー').fill(me.accessKey);
  await loginButton.click();
  await expect(page.getByRole('alert')).toHaveText(new RegExp(message));
  await expectScreen(page, heading.login);

  // The right key still works (two failures are far from the lockout).
  await page.getByLabel('フレッツナンバー').fill(me.customerId);
  await loginButton.click();
  await expect(page.getByText(`お客さまID: ${me.customerId}`, { exact: true })).toBeVisible();
});

test('a customer ID typed in full-width lower case logs in', async ({ page }) => {
  const me = line(20);
  const typed = fullWidthLowerCase(me.customerId);
  expect(typed).toMatch(/^ｃａｆ[０-９]{10}$/);

  await login(page, typed, me.accessKey);

  await expect(page.getByText(`お客さまID: ${me.customerId}`, { exact: true })).toBeVisible();
});

/** Notes, in every page of `context`, each level-1 heading ever drawn, so
 * that a screen shown for a moment only is seen too. */
async function recordHeadings(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { headingsSeen: string[] }).headingsSeen = seen;
    new MutationObserver(() => {
      for (const h1 of document.querySelectorAll('h1')) {
        const text = h1.textContent ?? '';
        if (seen.at(-1) !== text) seen.push(text);
      }
    }).observe(document, { childList: true, subtree: true, characterData: true });
  });
}

/** The level-1 headings `page` has drawn since it was loaded. */
function headingsSeen(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { headingsSeen: string[] }).headingsSeen);
}

test('a live session opening / lands on S1, in the same tab and a new one, without the login form', async ({ context, page }) => {
  const me = line(38);
  const customerId = `お客さまID: ${me.customerId}`;
  await loginAs(page, me);
  await recordHeadings(context);

  await page.goto('/');
  await expectScreen(page, heading.top);
  await expect(page).toHaveURL(/\/top$/);
  await expect(page.getByText(customerId, { exact: true })).toBeVisible();
  expect(await headingsSeen(page)).toEqual([heading.top]);

  const tab = await context.newPage();
  await tab.goto('/');
  await expectScreen(tab, heading.top);
  await expect(tab.getByText(customerId, { exact: true })).toBeVisible();
  expect(await headingsSeen(tab)).toEqual([heading.top]);

  // Logged out in the new tab, `/` is the login form in both.
  await tab.getByRole('button', { name: 'ログアウト', exact: true }).click();
  await expectScreen(tab, heading.login);
  await expect(tab.getByRole('status')).toHaveText('ログアウトしました');
  await page.goto('/');
  await expectScreen(page, heading.login);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('button', { name: 'ログアウト' })).toHaveCount(0);
  await expect(page.getByText(customerId)).toHaveCount(0);
});

test('a session the browser no longer has shows the login form at /, and logging in works', async ({ context, page, browserErrors }) => {
  // The portal asks whether the session it knew of is still alive: 401.
  browserErrors.allow(failedFetch(401));
  const me = line(40);
  await loginAs(page, me);
  await context.clearCookies();

  await page.goto('/');
  await expectScreen(page, heading.login);
  await expect(page.getByRole('status')).toHaveCount(0);
  await expect(page.getByRole('button', { name: 'ログアウト' })).toHaveCount(0);

  await loginAs(page, me);
});
