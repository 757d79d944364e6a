/**
 * The warning before the idle limit (SPEC §4 Sessions, WCAG 2.2.1), against
 * the second server, whose sessions end after 20 s idle (servers.ts): the
 * dialog shows 10 s before the limit (half of it, as the limit is short),
 * 「延長する」 (or Escape) keeps the session alive, and doing nothing ends
 * it with a message on S0.
 */
import { expect, failedFetch, test } from './fixtures';
import { axeViolations, smallTargets } from './a11y';
import { expectScreen, heading, line, loginAs } from './helpers';
import { checkWidths } from './screens';
import { idleLimitSecs, idlePort } from './servers';

test.use({ baseURL: `http://127.0.0.1:${idlePort}` });

test('the idle warning offers 「延長する」, and doing nothing ends the session with a message', async ({ page, browserErrors }, testInfo) => {
  // Four idle periods, and a page after the session has ended (401).
  test.setTimeout(5 * idleLimitSecs * 1000);
  browserErrors.allow(failedFetch(401));
  const dialog = page.getByRole('dialog', { name: 'まもなく自動的にログアウトします' });
  const extend = dialog.getByRole('button', { name: '延長する', exact: true });
  const warningWithin = { timeout: (idleLimitSecs / 2 + 3) * 1000 };

  await loginAs(page, line(1));
  await expect(dialog).toHaveCount(0);
  const loggedInAt = Date.now();

  // Half the limit before it, the dialog: modal, focused on 「延長する」,
  // saying how long is left.
  await expect(dialog).toBeVisible(warningWithin);
  expect(Date.now() - loggedInAt).toBeGreaterThan((idleLimitSecs / 2 - 2) * 1000);
  await expect(extend).toBeFocused();
  await expect(dialog).toContainText(/あと\d+秒で自動的にログアウトします/);
  expect(await dialog.evaluate((d: HTMLDialogElement) => d.matches(':modal'))).toBe(true);
  expect(await axeViolations(page)).toEqual([]);
  expect(await smallTargets(page)).toEqual([]);

  // Escape, which closes a dialog, counts as 「延長する」.
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();

  // Past the first limit, still logged in: the dialog comes again.
  await expect(dialog).toBeVisible(warningWithin);
  expect(Date.now() - loggedInAt).toBeGreaterThan(idleLimitSecs * 1000);
  await expect(page).toHaveURL(/\/top$/);
  await expectScreen(page, 'ご利用サービス一覧');
  await checkWidths(page, 'timeout-dialog', testInfo);
  await expect(extend).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(dialog).toBeHidden();
  const extendedAt = Date.now();

  // Once more, and this time nothing is done.
  await expect(dialog).toBeVisible(warningWithin);

  // Doing nothing: the session ends, and S0 says why.
  await expect(page.getByRole('heading', { level: 1, name: heading.login, exact: true })).toBeVisible(warningWithin);
  expect(Date.now() - extendedAt).toBeGreaterThan((idleLimitSecs - 2) * 1000);
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole('status')).toHaveText(
    '一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください',
  );
  await expect(dialog).toHaveCount(0);

  // The session has ended on the server too.
  await page.goto('/top');
  await expectScreen(page, heading.login);
  await expect(page.getByRole('status')).toHaveText(/ログインしてください$/);
});
