/**
 * The operator console's screens (SPEC §5, §6): every one, in each state a
 * visit leaves it in (the login with an error, the setup refused, the
 * application lookup not 16 digits, one digit away and found, a locked
 * line, the unlock done, the outbox, an event waiting with its retry form,
 * 「操作履歴」 and its filter refused, the operators with one added and one
 * refused, the 404 page, the login after logout), has no axe violation
 * (WCAG 2.2 AA) and no target under 24×24 px; and the line page does not
 * scroll sideways at 768 px, the narrowest width the console is made for
 * (its stylesheet: "usable from 768 px"; the screenshot is kept in
 * test-results/screenshots/). On the main server only: the pages are the
 * same on every engine, and console.spec.ts runs the journey on both.
 */
import { axeViolations, smallTargets } from './a11y';
import {
  consoleHeading,
  enrol,
  expectConsolePage,
  fillLogin,
  lockOut,
  menuLink,
  misheard,
  misheardDigit,
  oneTimePassword,
  submitByApi,
} from './console';
import { expect, failedFetch, test } from './fixtures';
import { line } from './helpers';
import { screenshotPath } from './screens';

/** The tour's line: an application setting P0001 (which it does not
 * notify) to 「通知する」, and a lock. */
const toured = line(47);

test('every console screen has no axe violation and no small target, and the line page fits 768 px', async ({
  page,
  request,
  consoleURL,
  dataDir,
  browserErrors,
}, testInfo) => {
  // About twenty states, axe at each (a minute on a loaded machine).
  test.setTimeout(180_000);
  // A wrong password (401), the setup refused (400), an admin's add
  // refused (400), and a page that is not there (404).
  for (const status of [400, 401, 404]) browserErrors.allow(failedFetch(status));
  const check = async (state: string) => {
    expect.soft(await axeViolations(page), `axe violations on the console's ${state}`).toEqual([]);
    expect.soft(await smallTargets(page), `targets under 24×24 px on the console's ${state}`).toEqual([]);
  };
  const id = await submitByApi(request, toured, 'notify', ['P0001']);
  await lockOut(request, toured);

  await page.goto(`${consoleURL}/console/login`);
  await expectConsolePage(page, consoleHeading.login);
  await check('login');
  await fillLogin(page, 'screens', 'not-the-password');
  await expect(page.getByRole('alert')).toContainText('オペレーター名、パスワードまたは確認コードが正しくありません');
  await check('login refused');

  await fillLogin(page, 'screens', oneTimePassword(dataDir, 'screens'));
  await expectConsolePage(page, consoleHeading.setup);
  await check('setup');
  await page.getByLabel('新しいパスワード', { exact: true }).fill('short');
  await page.getByLabel('新しいパスワード（確認）', { exact: true }).fill('shorter');
  await page.getByLabel('確認コード（6桁）', { exact: true }).fill('000000');
  await page.getByRole('button', { name: '設定する', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('新しいパスワードは12文字以上で入力してください');
  await check('setup refused');
  await enrol(page);
  await check('home');

  await page.getByLabel('お申し込みID', { exact: true }).fill('1234');
  await page.getByRole('button', { name: '申込を照会', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('お申し込みIDは16桁の数字で入力してください');
  await check('application lookup, not 16 digits');
  await page.getByLabel('お申し込みID', { exact: true }).fill(misheard(id, misheardDigit));
  await page.getByRole('button', { name: '申込を照会', exact: true }).click();
  await expect(page.getByRole('heading', { level: 2, name: '1桁違いで存在するお申し込みID' })).toBeVisible();
  await check('application lookup, one digit away');
  await page.getByRole('link', { name: id, exact: true }).click();
  await expect(page.getByRole('heading', { level: 2, name: '申込内容' })).toBeVisible();
  await check('application');

  await page.getByRole('link', { name: toured.customerId, exact: true }).click();
  await expectConsolePage(page, consoleHeading.line);
  await expect(page.getByRole('button', { name: 'ロックを解除する', exact: true })).toBeVisible();
  await check('line, locked');
  const desktop = page.viewportSize();
  await page.setViewportSize({ width: 768, height: 1024 });
  const { scrollWidth, clientWidth } = await page.evaluate(() => {
    const root = document.scrollingElement ?? document.documentElement;
    return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth };
  });
  expect.soft(scrollWidth, 'horizontal scrolling on the console’s line page at 768 px').toBeLessThanOrEqual(clientWidth);
  await page.screenshot({ path: screenshotPath(testInfo, 'console-line', 768), fullPage: true });
  await check('line, locked, at 768 px');
  if (desktop) await page.setViewportSize(desktop);
  await page.getByLabel('ロック解除の理由', { exact: true }).fill('画面の確認');
  await page.getByRole('button', { name: 'ロックを解除する', exact: true }).click();
  await expectConsolePage(page, consoleHeading.unlocked);
  await check('unlocked');

  await menuLink(page, 'メール送信待ち').click();
  await expectConsolePage(page, consoleHeading.outbox);
  await check('outbox');
  // P0001's webhook has no listener: the application's
  // notification.granted waits there once its work is done (4 s), with an
  // admin's retry form.
  await menuLink(page, '通知イベント').click();
  await expectConsolePage(page, consoleHeading.events);
  await expect(async () => {
    await page.reload();
    await expect(page.getByRole('link', { name: toured.customerId, exact: true })).toBeVisible({ timeout: 500 });
  }).toPass({ timeout: 20_000, intervals: [500] });
  await check('events');

  await menuLink(page, '操作履歴').click();
  await expectConsolePage(page, consoleHeading.actions);
  await check('actions');
  await page.getByLabel('お客さまID', { exact: true }).fill('CAF12');
  await page.getByRole('button', { name: '絞り込む', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('お客さまIDは「CAF」に続けて10桁');
  await check('actions, bad filter');

  await menuLink(page, 'オペレーター管理').click();
  await expectConsolePage(page, consoleHeading.operators);
  await check('operators');
  await page.getByLabel('オペレーター名', { exact: true }).fill('screens.added');
  await page.getByLabel('権限', { exact: true }).selectOption({ label: '閲覧者' });
  await page.getByRole('button', { name: '追加する', exact: true }).click();
  await expect(page.getByText(/^仮パスワード：[A-Za-z0-9]{16}$/)).toBeVisible();
  await check('operator added');
  await page.getByLabel('オペレーター名', { exact: true }).fill('screens.added');
  await page.getByRole('button', { name: '追加する', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('オペレーター「screens.added」はすでに登録されています');
  await check('operator refused');

  await page.goto(`${consoleURL}/console/no/such/page`);
  await expectConsolePage(page, consoleHeading.notFound);
  await check('not found');

  await page.goto(`${consoleURL}/console/`);
  await page.getByRole('button', { name: 'ログアウト', exact: true }).click();
  await expect(page.getByRole('status')).toHaveText('ログアウトしました。');
  await check('login after logout');
});
