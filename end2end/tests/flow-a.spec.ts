/**
 * Flow A (S2 → S4 → S5 → S6 → S7): a subscriber stops notifying a provider.
 */
import { expect, failedFetch, test } from './fixtures';
import {
  applyFlowA,
  flowAToConfirm,
  described,
  expectScreen,
  heading,
  line,
  loginAs,
  mailsTo,
  notificationFunctionRow,
  notificationFunctionStatus,
  openDetail,
  provider,
  providerCheckbox,
  providerRow,
  submit,
  workDone,
} from './helpers';

test('setting a provider to 通知しない is received, worked and then applied', async ({ page, dataDir }) => {
  const me = line(1);
  const stopped = provider('P0001');
  const kept = provider('P0002');

  await loginAs(page, me);
  await expect(notificationFunctionRow(page)).toBeVisible();
  await expect(notificationFunctionStatus(page)).toHaveText('利用中');
  await openDetail(page);
  await expect(providerRow(page, stopped)).toBeVisible();
  await expect(providerRow(page, kept)).toBeVisible();

  await providerCheckbox(page, stopped).check();
  await page.getByRole('button', { name: '「通知しない」に設定', exact: true }).click();
  await expectScreen(page, heading.consent);
  await page.getByRole('button', { name: '同意する', exact: true }).click();

  await expectScreen(page, heading.applicant);
  await page.getByLabel('お名前', { exact: true }).fill('髙橋 花子');
  await page.getByLabel('ご連絡先電話番号', { exact: true }).fill('090-1234-5678');
  await page.getByLabel('ご連絡先メールアドレス', { exact: true }).fill('hanako@example.jp');
  await page.getByRole('radio', { name: '希望する', exact: true }).check();
  await page.getByRole('button', { name: '次へ', exact: true }).click();

  await expectScreen(page, heading.confirm);
  const change = providerRow(page, stopped);
  await expect(change).toContainText(stopped.serviceName);
  await expect(change.getByRole('cell').last()).toHaveText('通知しない');
  await expect(providerRow(page, kept)).toHaveCount(0);
  await expect(described(page, 'お名前')).toHaveText('髙橋 花子');
  await expect(described(page, 'ご連絡先メールアドレス')).toHaveText('hanako@example.jp');
  await expect(described(page, '工事完了通知メール')).toHaveText('希望する');

  await page.getByRole('button', { name: '変更', exact: true }).click();
  await expectScreen(page, heading.complete);
  await expect(described(page, 'お申し込みID')).toHaveText(/^\d{16}$/);
  const id = (await described(page, 'お申し込みID').innerText()).trim();
  await expect(described(page, '受付日時')).toHaveText(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}$/);
  await expect(providerRow(page, stopped).getByRole('cell').last()).toHaveText('通知しない');
  await expect(page.getByText('hanako@example.jp あてに工事完了通知メールをお送りします', { exact: false })).toBeVisible();

  // While the work runs (4 s), the function is 「変更中」 on the top page…
  await page.getByRole('link', { name: 'トップページへ' }).click();
  await expect(notificationFunctionStatus(page)).toHaveText('変更中');

  // …and once it is done, 「利用中」 again, without the provider on S2.
  await expect(async () => {
    await page.reload();
    await expect(notificationFunctionStatus(page)).toHaveText('利用中', { timeout: 2_000 });
  }).toPass(workDone);
  await openDetail(page);
  await expect(providerRow(page, kept)).toBeVisible();
  await expect(providerRow(page, stopped)).toHaveCount(0);

  // 「希望する」 was chosen: the completion mail went to the given address.
  await expect.poll(() => mailsTo(dataDir, 'hanako@example.jp').length, workDone).toBe(1);
  expect(mailsTo(dataDir, 'hanako@example.jp')[0]).toContain(id);
});

test('「通知しない」に設定 with nothing ticked asks to choose and stays on S2', async ({ page }) => {
  await loginAs(page, line(2));
  await openDetail(page);
  await expect(providerRow(page, provider('P0001'))).toBeVisible();

  await page.getByRole('button', { name: '「通知しない」に設定', exact: true }).click();

  await expect(page.getByRole('alert')).toContainText('通知先を選択してください');
  await expectScreen(page, heading.detail);
  await expect(page).toHaveURL(/\/notification$/);
  await expect(page).toHaveTitle(/^エラー：/);
});

test('a provider whose change is being worked shows 変更中 and cannot be ticked', async ({ page }) => {
  const busy = provider('P0002');
  const free = provider('P0001');
  await loginAs(page, line(3));
  await openDetail(page);
  await applyFlowA(page, [busy]);

  // The work takes 4 s: these checks run well within it.
  await page.getByRole('link', { name: 'トップページへ' }).click();
  await expect(notificationFunctionStatus(page)).toHaveText('変更中');
  await openDetail(page);
  await expect(providerRow(page, busy)).toContainText('変更中');
  await expect(providerCheckbox(page, busy)).toBeDisabled();
  await expect(providerRow(page, free)).not.toContainText('変更中');
  await expect(providerCheckbox(page, free)).toBeEnabled();
});

test('two sessions applying for the same provider get one receipt and one clear refusal', async ({ browser, page, browserErrors }) => {
  // The refused submission is answered 409.
  browserErrors.allow(failedFetch(409));
  const me = line(23);
  const contested = provider('P0001');
  const other = await browser.newContext();
  browserErrors.watch(other);
  const second = await other.newPage();
  try {
    for (const p of [page, second]) {
      await loginAs(p, me);
      await openDetail(p);
      await flowAToConfirm(p, [contested]);
    }

    const id = await submit(page);
    await second.getByRole('button', { name: '変更', exact: true }).click();
    // Refused as being worked, or (had the 4 s work already finished) as
    // already set: either way one clear refusal.
    await expect(second.getByRole('alert')).toContainText(
      new RegExp(`「${contested.name}」は(現在変更の工事中のため|すでにその設定になっています)`),
    );
    await expectScreen(second, heading.confirm);

    await second.getByRole('link', { name: 'トップページへ' }).click();
    await second.getByRole('button', { name: '申込履歴', exact: true }).click();
    await expectScreen(second, heading.history);
    const rows = second.getByRole('row').filter({ has: second.getByRole('cell') });
    await expect(rows).toHaveCount(1);
    await expect(rows.getByRole('link', { name: id, exact: true })).toBeVisible();
  } finally {
    await other.close();
  }
});
