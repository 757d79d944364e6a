/**
 * S4 「同意しない」: the subscriber is back on S2 and nothing has changed.
 */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import {
  expectLoaded,
  expectScreen,
  heading,
  line,
  loginAs,
  notificationFunctionStatus,
  openDetail,
  provider,
  providerCheckbox,
} from './helpers';

/** The text of every data row on S2. */
async function detailRows(page: Page): Promise<string[]> {
  return page.getByRole('row').filter({ has: page.getByRole('cell') }).allInnerTexts();
}

test('「同意しない」 returns to S2 with nothing changed and nothing applied for', async ({ page }) => {
  await loginAs(page, line(7));
  await openDetail(page);
  await expect(providerCheckbox(page, provider('P0001'))).toBeVisible();
  const before = await detailRows(page);
  expect(before).toHaveLength(3);

  await providerCheckbox(page, provider('P0001')).check();
  await page.getByRole('button', { name: '「通知しない」に設定', exact: true }).click();
  await expectScreen(page, heading.consent);
  await expect(page.getByText('（版：E2E-1）')).toBeVisible();
  await page.getByRole('button', { name: '同意しない', exact: true }).click();

  await expectScreen(page, heading.detail);
  await expect(page).toHaveURL(/\/notification$/);
  await expect(providerCheckbox(page, provider('P0001'))).toBeVisible();
  expect(await detailRows(page)).toEqual(before);
  await expect(page.getByText('変更中')).toHaveCount(0);
  for (const code of ['P0001', 'P0002', 'P0003']) {
    await expect(providerCheckbox(page, provider(code))).toBeEnabled();
    await expect(providerCheckbox(page, provider(code))).not.toBeChecked();
  }

  // The browser's back button does not reopen the abandoned flow.
  await page.goBack();
  await expectScreen(page, heading.detail);
  await expect(page).toHaveURL(/\/notification$/);
  await expect(page.getByText('変更中')).toHaveCount(0);

  await page.getByRole('link', { name: 'トップページへ' }).click();
  await expect(notificationFunctionStatus(page)).toHaveText('利用中');
  await page.getByRole('button', { name: '申込履歴', exact: true }).click();
  await expectScreen(page, heading.history);
  await expect(page.getByText('お申し込みはまだありません。')).toBeVisible();
});

test('「同意しない」 tells the subscriber that the application was abandoned', async ({ page }) => {
  await loginAs(page, line(8));
  await openDetail(page);
  await providerCheckbox(page, provider('P0001')).check();
  await page.getByRole('button', { name: '「通知しない」に設定', exact: true }).click();
  await expectScreen(page, heading.consent);
  await page.getByRole('button', { name: '同意しない', exact: true }).click();

  await expectScreen(page, heading.detail);
  await expectLoaded(page);
  await expect(page.getByRole('status')).toHaveText('お申し込みを中止しました。通知設定は変更されていません。');
});
