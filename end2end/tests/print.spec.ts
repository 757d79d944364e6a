/**
 * The printed receipt (S7): one A4 page, with the receipt (what happens
 * next and when, the operator's contact details as configured, the stored
 * received time) and without the buttons or navigation (SPEC §3 S7); the
 * same when reopened from S8.
 */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { contact } from './servers';
import {
  described,
  expectScreen,
  heading,
  line,
  loginAs,
  openDetail,
  pdfPageCount,
  provider,
  applyFlowA,
} from './helpers';

/** When the work is done: expected (受付済, 工事中), or done (完了). */
const whenDone =
  /^(工事の完了後に設定が反映されます。工事完了予定：\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} ごろ|工事は \d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} に完了し、設定が反映されました。)$/;

/** The printed text, less what the work changes meanwhile (状態, when done). */
function unchanging(printed: string): string {
  return printed
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => !/^(受付済|工事中|完了)$/.test(l) && !whenDone.test(l))
    .join('\n');
}

/** Checks S7 as printed: what shows, what does not, and one A4 page.
 * Returns the printed text. */
async function expectOnePrintedPage(page: Page, id: string, pdfPath: string): Promise<string> {
  await page.emulateMedia({ media: 'print' });
  await expect(described(page, 'お申し込みID')).toHaveText(id);
  await expect(described(page, 'お申し込みID')).toBeVisible();
  await expect(described(page, '受付日時')).toBeVisible();
  await expect(page.getByRole('heading', { name: '今後の流れ' })).toBeVisible();
  await expect(page.getByText(whenDone)).toBeVisible();
  await expect(page.getByText(/あてに工事完了通知メールをお送りします。$/)).toBeVisible();
  await expect(page.getByRole('heading', { name: 'お問い合わせ先' })).toBeVisible();
  for (const entry of contact) {
    await expect(page.getByText(entry, { exact: true })).toBeVisible();
  }
  await expect(page.getByText('このページを印刷または保存して、お申し込みIDをお控えください。')).toBeVisible();
  await expect(page.getByRole('button', { name: '画面印刷（保存）' })).toBeHidden();
  await expect(page.getByRole('button', { name: 'ログアウト' })).toBeHidden();
  await expect(page.getByRole('link', { name: 'トップページへ' })).toBeHidden();

  // Kept as a test artefact, to be looked at.
  const pdf = await page.pdf({ path: pdfPath, format: 'A4', printBackground: true });
  expect(pdfPageCount(pdf), 'pages of the printed receipt').toBe(1);
  const printed = await page.locator('body').innerText();
  await page.emulateMedia({ media: 'screen' });
  return printed;
}

test('the receipt prints on one A4 page without buttons or navigation, also when reopened from S8', async ({ page }, testInfo) => {
  await loginAs(page, line(17));
  await openDetail(page);
  // Two providers, so the receipt's table has more than one row.
  const id = await applyFlowA(page, [provider('P0001'), provider('P0003')]);
  await expect(page.getByRole('button', { name: '画面印刷（保存）' })).toBeVisible();

  const printedFirst = await expectOnePrintedPage(page, id, testInfo.outputPath('receipt.pdf'));
  const received = await described(page, '受付日時').innerText();

  await page.getByRole('link', { name: 'トップページへ' }).click();
  await page.getByRole('button', { name: '申込履歴', exact: true }).click();
  await expectScreen(page, heading.history);
  await page.getByRole('link', { name: id, exact: true }).click();
  await expectScreen(page, heading.complete);
  // The stored time, not the time of reopening.
  await expect(described(page, '受付日時')).toHaveText(received);
  const reprinted = await expectOnePrintedPage(page, id, testInfo.outputPath('receipt-from-history.pdf'));
  expect(unchanging(reprinted)).toBe(unchanging(printedFirst));
});
