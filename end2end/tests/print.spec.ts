/**
 * The printed receipt (S7): one A4 page, with the receipt and without the
 * buttons or navigation (SPEC §3 S7).
 */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import {
  described,
  expectScreen,
  heading,
  line,
  loginAs,
  openDetail,
  provider,
  applyFlowA,
} from './helpers';

/** The number of pages of a PDF: its page objects (`/Type /Page`, not
 * `/Type /Pages`). Chromium writes them uncompressed. */
function pdfPageCount(pdf: Buffer): number {
  return pdf.toString('latin1').match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0;
}

/** Checks S7 as printed: what shows, what does not, and one A4 page. */
async function expectOnePrintedPage(page: Page, id: string): Promise<void> {
  await page.emulateMedia({ media: 'print' });
  await expect(described(page, 'お申し込みID')).toHaveText(id);
  await expect(described(page, 'お申し込みID')).toBeVisible();
  await expect(described(page, '受付日時')).toBeVisible();
  await expect(page.getByRole('heading', { name: 'お問い合わせ先' })).toBeVisible();
  await expect(page.getByText('このページを印刷または保存して、お申し込みIDをお控えください。')).toBeVisible();
  await expect(page.getByRole('button', { name: '画面印刷（保存）' })).toBeHidden();
  await expect(page.getByRole('button', { name: 'ログアウト' })).toBeHidden();
  await expect(page.getByRole('link', { name: 'トップページへ' })).toBeHidden();

  const pdf = await page.pdf({ format: 'A4', printBackground: true });
  expect(pdfPageCount(pdf), 'pages of the printed receipt').toBe(1);
  await page.emulateMedia({ media: 'screen' });
}

test('the receipt prints on one A4 page without buttons or navigation, also when reopened from S8', async ({ page }) => {
  await loginAs(page, line(17));
  await openDetail(page);
  // Two providers, so the receipt's table has more than one row.
  const id = await applyFlowA(page, [provider('P0001'), provider('P0003')]);
  await expect(page.getByRole('button', { name: '画面印刷（保存）' })).toBeVisible();

  await expectOnePrintedPage(page, id);

  await page.getByRole('link', { name: 'トップページへ' }).click();
  await page.getByRole('button', { name: '申込履歴', exact: true }).click();
  await expectScreen(page, heading.history);
  await page.getByRole('link', { name: id, exact: true }).click();
  await expectScreen(page, heading.complete);
  await expectOnePrintedPage(page, id);
});
