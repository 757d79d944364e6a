/**
 * Who receives the customer ID and why (SPEC §3, §8): each provider's
 * 利用目的 on S2, S3, S4 and S6 (「（未登録）」 for one that stated none),
 * 最終通知日時 on S2, and S9 通知履歴, reached from S2 and by its address:
 * empty, accessible, printable, at 320 px; its rows and paging checked
 * against the shape of `GET /api/disclosures` (`shared::api::DisclosurePage`);
 * provider-lookup.spec.ts makes a real one.
 */
import type { Page, Route } from '@playwright/test';
import { axeViolations } from './a11y';
import { expect, test } from './fixtures';
import {
  agree,
  cellOf,
  dataRows,
  enterApplicant,
  expectLoaded,
  expectScreen,
  heading,
  jst,
  line,
  loginAs,
  noPurpose,
  openDetail,
  pdfPageCount,
  provider,
  providerCheckbox,
  providerRow,
  purposeOf,
  type Provider,
} from './helpers';
import { checkWidths, widths } from './screens';

const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });

/** Expects the row of each of `providers` to show its 利用目的. */
async function expectPurposes(page: Page, providers: Provider[]): Promise<void> {
  for (const p of providers) {
    await expect(await cellOf(page, p, '利用目的')).toHaveText(purposeOf(p));
  }
}

test('S2 shows each provider’s 利用目的 and 最終通知日時 「なし」 when it never received the ID', async ({ page }) => {
  await loginAs(page, line(41));
  await openDetail(page);
  const listed = ['P0001', 'P0002', 'P0003'].map(provider);
  // P0003 states no purpose.
  expect(listed[2].purpose).toBeUndefined();
  await expect(providerRow(page, listed[0])).toBeVisible();
  await expectPurposes(page, listed);
  await expect(await cellOf(page, listed[2], '利用目的')).toHaveText(noPurpose);
  for (const p of listed) {
    await expect(await cellOf(page, p, '最終通知日時')).toHaveText('なし');
  }
});

test('S3 shows each provider’s 利用目的 on every page', async ({ page }) => {
  await loginAs(page, line(43));
  await openDetail(page);
  await button(page, '通知先追加').click();
  await expectScreen(page, heading.add);
  await expect(page.getByText('(ページ 1/3 ページ)', { exact: true })).toBeVisible();
  await expectPurposes(page, [provider('P0004'), provider('P0005')]);

  await button(page, '次のページ').click();
  await expect(page.getByText('(ページ 2/3 ページ)', { exact: true })).toBeVisible();
  await expectPurposes(page, [provider('P0030'), provider('P0040')]);
  await expect(await cellOf(page, provider('P0040'), '利用目的')).toHaveText(noPurpose);
});

test('flow A: S4 and S6 show the 利用目的 of the providers being changed, also after a reload', async ({ page }) => {
  const chosen = [provider('P0001'), provider('P0003')];
  await loginAs(page, line(42));
  await openDetail(page);
  for (const p of chosen) await providerCheckbox(page, p).check();
  await button(page, '「通知しない」に設定').click();

  await expectScreen(page, heading.consent);
  const table = page.getByRole('table', { name: 'お客さまIDの通知をやめるサービス提供者と利用目的' });
  await expect(table.getByRole('row').filter({ has: page.getByRole('cell') })).toHaveCount(2);
  await expectPurposes(page, chosen);
  // The purposes come before the consent text.
  const tableBox = await table.boundingBox();
  const consentBox = await page.getByRole('region', { name: '同意書の本文' }).boundingBox();
  expect(tableBox!.y).toBeLessThan(consentBox!.y);
  await page.reload();
  await expectScreen(page, heading.consent);
  await expectPurposes(page, chosen);

  await agree(page);
  await enterApplicant(page);
  await expectPurposes(page, chosen);
  await expect(providerRow(page, chosen[0]).getByRole('cell').last()).toHaveText('通知しない');
  await page.reload();
  await expectScreen(page, heading.confirm);
  await expectPurposes(page, chosen);

  // A draft saved by a client from before the draft carried purposes
  // (they were kept beside it) still loads: the step stays, its purposes
  // unknown.
  await page.evaluate(() => {
    const draft = JSON.parse(sessionStorage.getItem('kaisen.draft')!);
    for (const p of draft.providers) delete p.purpose;
    sessionStorage.setItem('kaisen.draft', JSON.stringify(draft));
  });
  await page.reload();
  await expectScreen(page, heading.confirm);
  for (const p of chosen) await expect(await cellOf(page, p, '利用目的')).toHaveText(noPurpose);
});

test('flow B: S4 and S6 show the 利用目的 of the providers ticked on S3’s pages', async ({ page }) => {
  const chosen = [provider('P0004'), provider('P0040')];
  await loginAs(page, line(43));
  await openDetail(page);
  await button(page, '通知先追加').click();
  await expectScreen(page, heading.add);
  await providerCheckbox(page, chosen[0]).check();
  await button(page, '次のページ').click();
  await expect(page.getByText('(ページ 2/3 ページ)', { exact: true })).toBeVisible();
  await providerCheckbox(page, chosen[1]).check();
  await button(page, '「通知する」に設定').click();

  await expectScreen(page, heading.consent);
  await expect(page.getByRole('table', { name: 'お客さまIDを通知するサービス提供者と利用目的' })).toBeVisible();
  await expectPurposes(page, chosen);
  await agree(page);
  await enterApplicant(page);
  await expectPurposes(page, chosen);
  await expect(providerRow(page, chosen[1]).getByRole('cell').last()).toHaveText('通知する');
});

test('S9 reached from S2: empty, with the way back, accessible, printable and fitting 320 px', async ({ page }, testInfo) => {
  await loginAs(page, line(41));
  await openDetail(page);
  await button(page, '通知履歴').click();

  await expectScreen(page, heading.disclosures);
  await expect(page).toHaveURL(/\/notification\/history$/);
  await expectLoaded(page);
  await expect(page.getByText('通知履歴はありません。', { exact: true })).toBeVisible();
  await expect(page.getByRole('table')).toHaveCount(0);
  await expect(page).toHaveTitle(`${heading.disclosures}｜サービス申込受付ページ`);
  expect(await axeViolations(page)).toEqual([]);

  // By its address, and reloaded: the same screen.
  await page.reload();
  await expectScreen(page, heading.disclosures);
  await expect(page.getByText('通知履歴はありません。', { exact: true })).toBeVisible();

  // Printed: the history, without buttons or navigation, on one page.
  await page.emulateMedia({ media: 'print' });
  await expect(page.getByText('通知履歴はありません。', { exact: true })).toBeVisible();
  await expect(button(page, 'ログアウト')).toBeHidden();
  await expect(button(page, '戻る')).toBeHidden();
  await expect(page.getByRole('link', { name: 'トップページへ' })).toBeHidden();
  const pdf = await page.pdf({ path: testInfo.outputPath('disclosures.pdf'), format: 'A4', printBackground: true });
  expect(pdfPageCount(pdf)).toBe(1);
  await page.emulateMedia({ media: 'screen' });

  await checkWidths(page, 's9-empty', testInfo);
  await page.setViewportSize({ width: widths[0], height: 900 });
  expect(await axeViolations(page)).toEqual([]);

  await button(page, '戻る').click();
  await expectScreen(page, heading.detail);
  await page.goBack();
  await expectScreen(page, heading.disclosures);
  await page.getByRole('link', { name: 'トップページへ' }).click();
  await expect(page.getByText(`お客さまID: ${line(41).customerId}`, { exact: true })).toBeVisible();
  await page.goBack();
  await expectScreen(page, heading.disclosures);
  await button(page, 'ログアウト').click();
  await expectScreen(page, heading.login);
});

/** One disclosure as `GET /api/disclosures` answers it (`shared::api::DisclosureRow`). */
interface DisclosureRow {
  at: number;
  service_name: string;
  provider_name: string;
  prefix: string | null;
  reason: 'lookup' | 'granted';
}

/** 2026/11/25 21:05:17 JST, in unix seconds. */
const newest = Date.UTC(2026, 10, 25, 12, 5, 17) / 1000;

/** 45 disclosures, newest first, an hour apart; every third the notice
 * sent on a change to 「通知する」 (no 接続元). */
const history: DisclosureRow[] = Array.from({ length: 45 }, (_, i) => {
  const p = provider(`P${String((i % 50) + 1).padStart(4, '0')}`);
  const granted = i % 3 === 2;
  return {
    at: newest - i * 3600,
    service_name: p.serviceName,
    provider_name: p.name,
    prefix: granted ? null : '2001:db8:1234:5600::/56',
    reason: granted ? 'granted' : 'lookup',
  };
});

/** Answers `GET /api/disclosures?page=N` as the server does: 20 a page, a
 * page past the last gives the last (`shared::api::DisclosurePage`). */
async function answerDisclosures(route: Route): Promise<void> {
  const asked = Number(new URL(route.request().url()).searchParams.get('page') ?? '1');
  const pages = Math.max(1, Math.ceil(history.length / 20));
  const page = Math.min(Math.max(asked, 1), pages);
  await route.fulfill({
    json: { total: history.length, page, pages, items: history.slice((page - 1) * 20, page * 20) },
  });
}

/** Expects S9 to show `history[from..from+count]`, cell by cell. */
async function expectRows(page: Page, from: number, count: number): Promise<void> {
  await expect(dataRows(page)).toHaveCount(count);
  for (const i of [0, 1, 2, count - 1]) {
    const d = history[from + i];
    await expect(dataRows(page).nth(i).getByRole('cell')).toHaveText([
      jst(d.at),
      d.service_name,
      d.provider_name,
      d.prefix ?? 'なし',
      d.reason === 'lookup' ? '接続時の照会' : '「通知する」に設定',
    ]);
  }
}

test('S9 shows the API’s rows in its columns, 20 a page, paged by keyboard, by address and reloaded', async ({ page }, testInfo) => {
  await page.route(/\/api\/disclosures(\?|$)/, answerDisclosures);
  await loginAs(page, line(44));
  await openDetail(page);
  await button(page, '通知履歴').focus();
  await page.keyboard.press('Enter');

  await expectScreen(page, heading.disclosures);
  await expect(page.getByRole('table', { name: 'お客さまIDを通知した記録' })).toBeVisible();
  expect((await page.getByRole('columnheader').allInnerTexts()).map((h) => h.trim())).toEqual([
    '通知日時',
    'サービス名',
    'サービス提供者名',
    '接続元',
    '通知の理由',
  ]);
  await expect(page.getByText('件数: 45件', { exact: true })).toBeVisible();
  await expect(page.getByText('(ページ 1/3 ページ)', { exact: true })).toBeVisible();
  await expect(dataRows(page).first().getByRole('cell').first()).toHaveText('2026/11/25 21:05:17');
  await expectRows(page, 0, 20);
  await expect(button(page, '前のページ')).toBeDisabled();
  expect(await axeViolations(page)).toEqual([]);
  await checkWidths(page, 's9-rows', testInfo);
  await page.setViewportSize({ width: widths[0], height: 900 });
  expect(await axeViolations(page)).toEqual([]);
  await page.setViewportSize({ width: 1280, height: 900 });

  // 「次のページ」 by keyboard: the new page's status takes the focus.
  await button(page, '次のページ').focus();
  await page.keyboard.press('Enter');
  await expect(page.getByText('(ページ 2/3 ページ)', { exact: true })).toBeVisible();
  await expect(page.locator('.paging-status')).toBeFocused();
  await expect(page).toHaveURL(/\/notification\/history\?page=2$/);
  await expectRows(page, 20, 20);

  await page.reload();
  await expectScreen(page, heading.disclosures);
  await expect(page.getByText('(ページ 2/3 ページ)', { exact: true })).toBeVisible();
  await expectRows(page, 20, 20);

  await button(page, '次のページ').click();
  await expect(page.getByText('(ページ 3/3 ページ)', { exact: true })).toBeVisible();
  await expectRows(page, 40, 5);
  await expect(button(page, '次のページ')).toBeDisabled();

  await button(page, '前のページ').click();
  await expect(page.getByText('(ページ 2/3 ページ)', { exact: true })).toBeVisible();
  await page.goBack();
  await expect(page.getByText('(ページ 3/3 ページ)', { exact: true })).toBeVisible();

  // A page past the last, by its address: the last.
  await page.goto('/notification/history?page=9');
  await expectScreen(page, heading.disclosures);
  await expect(page.getByText('(ページ 3/3 ページ)', { exact: true })).toBeVisible();
  await expectRows(page, 40, 5);

  // Printed: the rows, without the pager.
  await page.emulateMedia({ media: 'print' });
  await expect(dataRows(page).first()).toBeVisible();
  await expect(button(page, '前のページ')).toBeHidden();
  await page.pdf({ path: testInfo.outputPath('disclosures-rows.pdf'), format: 'A4', printBackground: true });
  await page.emulateMedia({ media: 'screen' });
});
