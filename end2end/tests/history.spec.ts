/**
 * S8 申込履歴: the line's applications, newest first, each reopening its
 * receipt.
 */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import {
  agree,
  applyFlowA,
  described,
  enterApplicant,
  expectScreen,
  heading,
  line,
  loginAs,
  openDetail,
  provider,
  providerCheckbox,
  submit,
  workDone,
} from './helpers';

async function openHistory(page: Page): Promise<void> {
  await page.getByRole('link', { name: 'トップページへ' }).click();
  await page.getByRole('button', { name: '申込履歴', exact: true }).click();
  await expectScreen(page, heading.history);
}

test('S8 lists the applications newest first, and each opens its receipt', async ({ page }) => {
  const stopped = provider('P0002');
  const added = provider('P0010');
  await loginAs(page, line(21));
  await openDetail(page);
  const older = await applyFlowA(page, [stopped]);

  await page.getByRole('link', { name: 'トップページへ' }).click();
  await openDetail(page);
  await page.getByRole('button', { name: '通知先追加', exact: true }).click();
  await expectScreen(page, heading.add);
  await providerCheckbox(page, added).check();
  await page.getByRole('button', { name: '「通知する」に設定', exact: true }).click();
  await agree(page);
  await enterApplicant(page);
  const newer = await submit(page);
  expect(newer).not.toBe(older);

  await openHistory(page);
  const rows = page.getByRole('row').filter({ has: page.getByRole('cell') });
  await expect(rows).toHaveCount(2);
  await expect(rows.nth(0).getByRole('link')).toHaveText(newer);
  await expect(rows.nth(0)).toContainText(`${added.name}（${added.serviceName}）→ 通知する`);
  await expect(rows.nth(1).getByRole('link')).toHaveText(older);
  await expect(rows.nth(1)).toContainText(`${stopped.name}（${stopped.serviceName}）→ 通知しない`);
  for (const row of [rows.nth(0), rows.nth(1)]) {
    await expect(row.getByRole('cell').nth(1)).toHaveText(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}$/);
    await expect(row.getByRole('cell').last()).toHaveText(/^(受付済|工事中|完了)$/);
  }

  for (const id of [older, newer]) {
    await page.getByRole('link', { name: id, exact: true }).click();
    await expectScreen(page, heading.complete);
    await expect(described(page, 'お申し込みID')).toHaveText(id);
    await page.goBack();
    await expectScreen(page, heading.history);
  }

  // Once worked, both are 完了, and so are their receipts.
  await expect(async () => {
    await page.reload();
    await expect(rows.last().getByRole('cell').last()).toHaveText('完了', { timeout: 2_000 });
    await expect(rows.first().getByRole('cell').last()).toHaveText('完了', { timeout: 2_000 });
  }).toPass(workDone);
  await page.getByRole('link', { name: older, exact: true }).click();
  await expect(described(page, '状態')).toHaveText('完了');
  await expect(page.getByText(/^工事は \d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} に完了し、設定が反映されました。$/)).toBeVisible();
});
