/**
 * Flow B (S2 → S3 → S4 → S5 → S6 → S7): a subscriber adds providers to
 * notify, choosing them on S3's pages.
 */
import type { Locator, Page } from '@playwright/test';
import { expect, test } from './fixtures';
import {
  agree,
  described,
  enterApplicant,
  expectScreen,
  heading,
  line,
  loginAs,
  openDetail,
  provider,
  providerCheckbox,
  providerCount,
  providerRow,
  submit,
  workDone,
  type Provider,
} from './helpers';

/** The provider shown in a row of S3's table. */
async function providerOf(row: Locator): Promise<Pick<Provider, 'name' | 'serviceName'>> {
  const cells = row.getByRole('cell');
  return {
    serviceName: (await cells.nth(1).innerText()).trim(),
    name: (await cells.nth(2).innerText()).trim(),
  };
}

/** The data rows of the table on the screen. */
function bodyRows(page: Page): Locator {
  return page.getByRole('row').filter({ has: page.getByRole('cell') });
}

test('providers ticked on two pages of S3 are set to 通知する after the work', async ({ page }) => {
  const me = line(4);
  await loginAs(page, me);
  await openDetail(page);
  await page.getByRole('button', { name: '通知先追加', exact: true }).click();

  await expectScreen(page, heading.add);
  const notNotified = providerCount - 3;
  await expect(page.getByText(`件数: ${notNotified}件`, { exact: true })).toBeVisible();
  await expect(page.getByText('(ページ 1/3 ページ)', { exact: true })).toBeVisible();
  await expect(page.getByRole('button', { name: '前のページ', exact: true })).toBeDisabled();
  await expect(bodyRows(page)).toHaveCount(20);
  // The line notifies P0001–P0003 already: they are not offered.
  await expect(providerRow(page, provider('P0001'))).toHaveCount(0);

  const first = await providerOf(bodyRows(page).nth(4));
  await providerCheckbox(page, first).check();

  await page.getByRole('button', { name: '次のページ', exact: true }).click();
  await expect(page.getByText('(ページ 2/3 ページ)', { exact: true })).toBeVisible();
  await expect(providerCheckbox(page, first)).toHaveCount(0);
  const second = await providerOf(bodyRows(page).first());
  expect(second.name).not.toBe(first.name);
  await providerCheckbox(page, second).check();

  // The selection survives paging, both ways.
  await page.getByRole('button', { name: '前のページ', exact: true }).click();
  await expect(page.getByText('(ページ 1/3 ページ)', { exact: true })).toBeVisible();
  await expect(providerCheckbox(page, first)).toBeChecked();
  await page.getByRole('button', { name: '次のページ', exact: true }).click();
  await expect(page.getByText('(ページ 2/3 ページ)', { exact: true })).toBeVisible();
  await expect(providerCheckbox(page, second)).toBeChecked();
  await page.getByRole('button', { name: '次のページ', exact: true }).click();
  await expect(page.getByText('(ページ 3/3 ページ)', { exact: true })).toBeVisible();
  await expect(bodyRows(page)).toHaveCount(notNotified - 40);
  await expect(page.getByRole('button', { name: '次のページ', exact: true })).toBeDisabled();

  await page.getByRole('button', { name: '「通知する」に設定', exact: true }).click();
  await agree(page);
  await enterApplicant(page);

  await expectScreen(page, heading.confirm);
  for (const p of [first, second]) {
    await expect(providerRow(page, p).getByRole('cell').last()).toHaveText('通知する');
  }
  await expect(page.getByText('「通知する」に設定したサービス提供者には、工事完了後ただちにお客さまIDが通知されます。')).toBeVisible();

  await submit(page);
  const received = (await described(page, '受付日時').innerText()).trim();
  const receivedOn = received.slice(0, 'YYYY/MM/DD'.length);

  await page.getByRole('link', { name: 'トップページへ' }).click();
  await openDetail(page);
  await expect(async () => {
    await page.reload();
    await expectScreen(page, heading.detail);
    await expect(providerRow(page, second)).toBeVisible({ timeout: 2_000 });
  }).toPass(workDone);
  // Cells: 選択, サービス名, サービス提供者名, 利用目的, 通知設定, 設定日, 設定方法, 最終通知日時.
  for (const p of [first, second]) {
    const cells = providerRow(page, p).getByRole('cell');
    await expect(cells.nth(1)).toHaveText(p.serviceName);
    await expect(cells.nth(4)).toHaveText('通知する');
    await expect(cells.nth(5)).toHaveText(receivedOn);
    await expect(cells.nth(6)).toHaveText('申込受付ページ');
  }
  // The initial settings are untouched.
  const initial = providerRow(page, provider('P0001')).getByRole('cell');
  await expect(initial.nth(5)).toHaveText('2025/04/01');
  await expect(initial.nth(6)).toHaveText('初期設定');
});

test('a line that notifies no provider says so on S2 and offers every provider on S3', async ({ page }) => {
  await loginAs(page, line(5));
  await openDetail(page);
  await expect(page.getByText('「通知する」に設定している通知先はありません。')).toBeVisible();
  await expect(page.getByRole('checkbox')).toHaveCount(0);

  await page.getByRole('button', { name: '通知先追加', exact: true }).click();
  await expectScreen(page, heading.add);
  await expect(page.getByText(`件数: ${providerCount}件`, { exact: true })).toBeVisible();
  await expect(page.getByText('(ページ 1/3 ページ)', { exact: true })).toBeVisible();
  await expect(providerRow(page, provider('P0001'))).toBeVisible();
});

test('「通知する」に設定 with nothing ticked asks to choose and stays on S3', async ({ page }) => {
  await loginAs(page, line(6));
  await openDetail(page);
  await page.getByRole('button', { name: '通知先追加', exact: true }).click();
  await expectScreen(page, heading.add);
  await expect(page.getByText('(ページ 1/3 ページ)', { exact: true })).toBeVisible();

  await page.getByRole('button', { name: '「通知する」に設定', exact: true }).click();

  await expect(page.getByRole('alert')).toContainText('通知先を選択してください');
  await expectScreen(page, heading.add);
});
