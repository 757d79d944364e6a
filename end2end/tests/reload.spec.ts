/**
 * Reloading, the browser's back button and typed addresses: the subscriber
 * stays in the flow or is sent to S2 with a message, and nothing is ever
 * submitted twice (SPEC §3, §4 Retries).
 */
import { expect, test } from './fixtures';
import {
  described,
  expectLoaded,
  expectScreen,
  fillApplicant,
  heading,
  line,
  loginAs,
  mailChoice,
  openDetail,
  provider,
  providerCheckbox,
  providerRow,
  submit,
  flowAToConfirm,
} from './helpers';

test('reloading S2 shows S2 again, still logged in', async ({ page }) => {
  await loginAs(page, line(13));
  await openDetail(page);
  await expect(providerRow(page, provider('P0003'))).toBeVisible();

  await page.reload();

  await expectScreen(page, heading.detail);
  await expect(providerRow(page, provider('P0003'))).toBeVisible();
  await expect(page.getByRole('button', { name: 'ログアウト', exact: true })).toBeVisible();
});

test('reloading S4, S5 and S6 keeps the subscriber in the flow with the entries kept', async ({ page }) => {
  const chosen = provider('P0002');
  await loginAs(page, line(14));
  await openDetail(page);
  await providerCheckbox(page, chosen).check();
  await page.getByRole('button', { name: '「通知しない」に設定', exact: true }).click();
  await expectScreen(page, heading.consent);

  await page.reload();
  await expectScreen(page, heading.consent);
  await page.getByRole('button', { name: '同意する', exact: true }).click();
  await expectScreen(page, heading.applicant);
  const entries = { name: '鈴木 一郎', phone: '045-123-4567', email: 'ichiro@example.jp', wantsMail: true };
  await fillApplicant(page, entries);

  await page.reload();
  await expectScreen(page, heading.applicant);
  await expect(page.getByLabel('お名前', { exact: true })).toHaveValue(entries.name);
  await expect(page.getByLabel('ご連絡先電話番号', { exact: true })).toHaveValue(entries.phone);
  await expect(page.getByLabel('ご連絡先メールアドレス', { exact: true })).toHaveValue(entries.email);
  await expect(mailChoice(page, true)).toBeChecked();

  await page.getByRole('button', { name: '次へ', exact: true }).click();
  await expectScreen(page, heading.confirm);
  await page.reload();
  await expectScreen(page, heading.confirm);
  await expect(providerRow(page, chosen).getByRole('cell').last()).toHaveText('通知しない');
  await expect(described(page, 'お名前')).toHaveText(entries.name);
  await expect(page.getByRole('button', { name: '変更', exact: true })).toBeEnabled();
});

test('after 「変更」, reload and back never submit twice', async ({ page }) => {
  await loginAs(page, line(15));
  await openDetail(page);
  await flowAToConfirm(page, [provider('P0001')]);
  const id = await submit(page);
  const received = await described(page, '受付日時').innerText();

  // Reloading S7 shows the same stored receipt.
  await page.reload();
  await expectScreen(page, heading.complete);
  await expect(described(page, 'お申し込みID')).toHaveText(id);
  await expect(described(page, '受付日時')).toHaveText(received);

  // Back to S6: it says the application was received, with the way to it,
  // and offers no second 「変更」.
  await page.goBack();
  await expect(page).toHaveURL(/\/notification\/apply\/confirm$/);
  await expectScreen(page, 'お申し込みは受付済みです');
  await expect(page.getByRole('button', { name: '変更', exact: true })).toHaveCount(0);
  const toReceipt = page.getByRole('link', { name: new RegExp(`お申し込みID: ${id}`) });
  await expect(toReceipt).toBeVisible();
  await toReceipt.click();
  await expectScreen(page, heading.complete);
  await expect(described(page, 'お申し込みID')).toHaveText(id);

  await page.getByRole('link', { name: 'トップページへ' }).click();
  await page.getByRole('button', { name: '申込履歴', exact: true }).click();
  await expectScreen(page, heading.history);
  const rows = page.getByRole('row').filter({ has: page.getByRole('cell') });
  await expect(rows).toHaveCount(1);
  await expect(rows.getByRole('link', { name: id, exact: true })).toBeVisible();
});

test('a step opened by its address without a flow leads to S2 with a message', async ({ page }) => {
  await loginAs(page, line(16));

  await page.goto('/notification/apply/confirm');

  await expectScreen(page, heading.detail);
  await expect(page).toHaveURL(/\/notification$/);
  await expectLoaded(page);
  await expect(page.getByRole('status')).toHaveText(
    'お手続きの途中の情報が見つからないため、はじめからお手続きをやり直してください。',
  );
  await expect(providerRow(page, provider('P0001'))).toBeVisible();

  await page.goto('/notification/apply/applicant');
  await expectScreen(page, heading.detail);
  await expectLoaded(page);
  await expect(page.getByRole('status')).toContainText('はじめからお手続きをやり直してください');
});

test('a double click on 「変更」 stores one application', async ({ page }) => {
  await loginAs(page, line(22));
  await openDetail(page);
  await flowAToConfirm(page, [provider('P0003')]);

  await page.getByRole('button', { name: '変更', exact: true }).dblclick();
  await expectScreen(page, heading.complete);
  const id = (await described(page, 'お申し込みID').innerText()).trim();

  // Back (without a reload) shows the application as received, forward the receipt.
  await page.goBack();
  await expectScreen(page, 'お申し込みは受付済みです');
  await expect(page.getByRole('button', { name: '変更', exact: true })).toHaveCount(0);
  await page.goForward();
  await expectScreen(page, heading.complete);
  await expect(described(page, 'お申し込みID')).toHaveText(id);

  await page.getByRole('link', { name: 'トップページへ' }).click();
  await page.getByRole('button', { name: '申込履歴', exact: true }).click();
  await expectScreen(page, heading.history);
  await expect(page.getByRole('row').filter({ has: page.getByRole('cell') })).toHaveCount(1);
});
