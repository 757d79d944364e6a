/**
 * S0 ログイン and 「ログアウト」: credentials, their normalisation, and no
 * data of the line after the session has ended.
 */
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
