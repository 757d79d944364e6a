/**
 * The operator console (SPEC §5) on the server's own console listener
 * (serve.sh: `serve --operator-addr`, accounts made with `kaisen operator
 * add` before it starts), in a browser: no JavaScript there, only forms.
 *
 * The journey (issue 13) runs on the main server and again on PostgreSQL:
 * an operator's first login enrols an authenticator (the secret read off
 * the setup page, the codes computed here as an app does), a call-centre
 * lookup of an お申し込みID read out with one wrong digit is answered with
 * the IDs one digit away and leads to the application, a customer ID
 * locked by ten failed logins is unlocked with a reason and the subscriber
 * logs in again on S0, and 「操作履歴」 lists the lookup and the unlock, also
 * for that customer ID alone. (console-accessibility.spec.ts tours every
 * console screen with axe.)
 */
import type { Browser, Page } from '@playwright/test';
import {
  consoleHeading,
  enrol,
  expectConsolePage,
  fillLogin,
  lockOut,
  menuLink,
  misheard,
  misheardDigit,
  newPassword,
  now,
  oneTimePassword,
  totp,
} from './console';
import { expect, failedFetch, test, type BrowserErrors } from './fixtures';
import {
  applyFlowA,
  dataRows,
  described,
  expectScreen,
  heading,
  line,
  loginAs,
  openDetail,
  provider,
} from './helpers';

/** The journey's line: it applies, and is locked and unlocked. */
const caller = line(46);

/** A browser of the operator's own (another person's desk than the
 * subscriber's), on the console, with its errors watched. */
async function operatorDesk(browser: Browser, consoleURL: string, errors: BrowserErrors): Promise<Page> {
  const context = await browser.newContext({ baseURL: consoleURL, locale: 'ja-JP', timezoneId: 'Asia/Tokyo' });
  errors.watch(context);
  return context.newPage();
}

/** The rows of 「操作履歴」 of actions of `kind` (the 「操作」 column),
 * with `detail` (the 「内容」 column) when given. */
function actionRows(page: Page, kind: string, detail?: string) {
  const rows = dataRows(page).filter({ has: page.getByRole('cell', { name: kind, exact: true }) });
  return detail === undefined ? rows : rows.filter({ has: page.getByRole('cell', { name: detail, exact: true }) });
}

test('an operator enrols, finds an application read out with one wrong digit, unlocks a locked line, and 「操作履歴」 lists both', async ({
  page,
  browser,
  request,
  consoleURL,
  dataDir,
  browserErrors,
}) => {
  // S0 with the right key while locked is answered 423.
  browserErrors.allow(failedFetch(423));

  // The subscriber applies: P0001 「通知しない」.
  await loginAs(page, caller);
  await openDetail(page);
  const p0001 = provider('P0001');
  const id = await applyFlowA(page, [p0001]);
  await page.getByRole('button', { name: 'ログアウト', exact: true }).click();
  await expectScreen(page, heading.login);

  // The operator's first login: the one-time password, then the setup.
  const desk = await operatorDesk(browser, consoleURL, browserErrors);
  await desk.goto('/console/');
  await expectConsolePage(desk, consoleHeading.login);
  await fillLogin(desk, 'journey', oneTimePassword(dataDir, 'journey'));
  const secret = await enrol(desk);
  await expect(desk.getByText('journey（管理者）', { exact: true })).toBeVisible();
  await expect(desk.getByRole('navigation', { name: 'コンソールのメニュー' }).getByRole('link')).toHaveText([
    '照会',
    'メール送信待ち',
    '通知イベント',
    '操作履歴',
    'オペレーター管理',
  ]);

  // The subscriber calls and reads the ID out, one digit wrong.
  const heard = misheard(id, misheardDigit);
  await desk.getByLabel('お申し込みID', { exact: true }).fill(heard);
  await desk.getByRole('button', { name: '申込を照会', exact: true }).click();
  await expectConsolePage(desk, consoleHeading.application);
  await expect(desk.getByRole('alert')).toContainText(`お申し込みID「${heard}」は確認用の数字（最後の桁）が合いません`);
  await expect(desk.getByRole('heading', { level: 2, name: '1桁違いで存在するお申し込みID', exact: true })).toBeVisible();
  await desk.getByRole('link', { name: id, exact: true }).click();
  await expectConsolePage(desk, consoleHeading.application);
  for (const section of ['申込内容', '変更内容', '申込者情報', '状態の履歴']) {
    await expect(desk.getByRole('heading', { level: 2, name: section, exact: true })).toBeVisible();
  }
  await expect(described(desk, 'お申し込みID')).toHaveText(id);
  await expect(described(desk, 'お客さまID')).toHaveText(caller.customerId);
  await expect(described(desk, 'お名前')).toHaveText('山田 太郎');
  const change = dataRows(desk).filter({ has: desk.getByRole('cell', { name: `${p0001.name} (P0001)`, exact: true }) });
  await expect(change.getByRole('cell')).toHaveText([p0001.serviceName, `${p0001.name} (P0001)`, '通知しない']);

  // Later, ten wrong keys in a row lock the customer ID; S0 says so even
  // with the right key.
  await lockOut(request, caller);
  await page.getByLabel('フレッツナンバー').fill(caller.customerId);
  await page.getByLabel('アクセスキー').fill(caller.accessKey);
  await page.getByRole('button', { name: 'ログイン', exact: true }).click();
  await expect(page.getByText(/このフレッツナンバーは.+までロックされています/)).toBeVisible();

  // The operator sees the lock on the line's page and lifts it.
  await menuLink(desk, '照会').click();
  await expectConsolePage(desk, consoleHeading.home);
  await desk.getByLabel('お客さまID', { exact: true }).fill(caller.customerId);
  await desk.getByRole('button', { name: '回線を照会', exact: true }).click();
  await expectConsolePage(desk, consoleHeading.line);
  await expect(described(desk, 'ロック')).toHaveText(/^ロック中（.+まで）$/);
  await expect(described(desk, '連続したログインの失敗')).toHaveText(/^ロックの後はなし（最後の失敗：.+）$/);
  const reason = 'お客さまから電話で依頼（本人確認済み）';
  await desk.getByLabel('ロック解除の理由', { exact: true }).fill(reason);
  await desk.getByRole('button', { name: 'ロックを解除する', exact: true }).click();
  await expectConsolePage(desk, consoleHeading.unlocked);
  await expect(desk.getByRole('status')).toHaveText(
    `お客さまID「${caller.customerId}」のロックを解除し、ログインの失敗回数を0に戻しました。`,
  );
  await desk.getByRole('link', { name: '回線照会に戻る', exact: true }).click();
  await expect(described(desk, 'ロック')).toHaveText('ロックなし');

  // The subscriber logs in on S0 at once.
  await loginAs(page, caller);

  // The operator logs out and in again: now the password and a code, of a
  // later step than the enrolment's (each step is accepted once).
  await desk.getByRole('button', { name: 'ログアウト', exact: true }).click();
  await expectConsolePage(desk, consoleHeading.login);
  await expect(desk.getByRole('status')).toHaveText('ログアウトしました。');
  await fillLogin(desk, 'journey', newPassword, totp(secret, now() + 30));
  await expectConsolePage(desk, consoleHeading.home);

  // 「操作履歴」: every lookup and the unlock, the reason given.
  await menuLink(desk, '操作履歴').click();
  await expectConsolePage(desk, consoleHeading.actions);
  await expect(actionRows(desk, '申込照会（該当なし）', `「${heard}」`)).toHaveCount(1);
  await expect(actionRows(desk, '申込照会', id)).toHaveCount(1);
  await expect(actionRows(desk, 'ロック解除', `理由：${reason}`)).toHaveCount(1);

  // For the caller's customer ID alone: the lookup of the application, the
  // line's two lookups and the unlock, and nothing of anyone else.
  await desk.getByLabel('お客さまID', { exact: true }).fill(caller.customerId);
  await desk.getByRole('button', { name: '絞り込む', exact: true }).click();
  await expectConsolePage(desk, consoleHeading.actions);
  await expect(desk.getByLabel('お客さまID', { exact: true })).toHaveValue(caller.customerId);
  const unlock = actionRows(desk, 'ロック解除', `理由：${reason}`);
  await expect(unlock).toHaveCount(1);
  await expect(unlock.getByRole('cell').nth(2)).toHaveText('journey');
  await expect(actionRows(desk, '申込照会', id)).toHaveCount(1);
  await expect(actionRows(desk, '回線照会')).toHaveCount(2);
  await expect(actionRows(desk, '申込照会（該当なし）')).toHaveCount(0);
  const rows = dataRows(desk);
  await expect(rows).toHaveCount(4);
  for (const row of await rows.all()) {
    await expect(row.getByRole('cell').nth(4)).toHaveText(caller.customerId);
  }
  await desk.context().close();
});
