/**
 * A walk through every screen of SPEC §3 in each of its states, shared by
 * the specs that check every screen the same way (accessibility.spec.ts:
 * axe; widths.spec.ts: no horizontal scrolling, screenshots). At each state
 * the walk waits until the screen has settled and calls `visit` with the
 * state's name (also the screenshot's file name).
 */
import path from 'node:path';
import type { Page, TestInfo } from '@playwright/test';
import { smallTargets } from './a11y';
import { expect } from './fixtures';
import {
  agree,
  described,
  expectScreen,
  fillApplicant,
  heading,
  line,
  loginAs,
  notificationFunctionRow,
  openDetail,
  provider,
  providerCheckbox,
  providerRow,
  type Line,
} from './helpers';

/** Checks the screen as it is now; `state` names it, e.g. `s2-detail`. */
export type Visit = (state: string) => Promise<void>;

/** The lines each spec walks with (helpers.ts lists who uses which line). */
export interface TourLines {
  /** A line notifying P0001–P0003: S0, flow A, S8 with rows. */
  withProviders: Line;
  /** A line notifying no provider: empty lists, S3's pages, flow B. */
  empty: Line;
}

/** The lines of accessibility.spec.ts and widths.spec.ts. */
export const tourLines = {
  accessibility: { withProviders: line(24), empty: line(31) },
  widths: { withProviders: line(25), empty: line(32) },
} satisfies Record<string, TourLines>;

const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });

/** Waits for the error summary with `message` to be shown and focused. */
async function expectSummary(page: Page, message: string | RegExp): Promise<void> {
  const summary = page.locator('.error-summary');
  await expect(summary).toContainText(message);
  await expect(summary).toBeFocused();
}

/** S0 fresh and with errors, and the 404 page. Provokes a 401 (a wrong
 * key): the caller allows it. */
export async function walkLogin(page: Page, me: Line, visit: Visit): Promise<void> {
  await page.goto('/');
  await expectScreen(page, heading.login);
  await visit('s0-login');

  await button(page, 'ログイン').click();
  await expectSummary(page, 'フレッツナンバーを入力してください');
  await visit('s0-error-empty');

  await page.getByLabel('フレッツナンバー').fill(me.customerId);
  await page.getByLabel('アクセスキー').fill(`${me.accessKey}x`);
  await button(page, 'ログイン').click();
  await expectSummary(page, 'フレッツナンバーまたはアクセスキーが正しくありません');
  await visit('s0-error-credentials');

  await page.goto('/no/such/page');
  await expectScreen(page, 'ページが見つかりません');
  await visit('not-found');
}

/**
 * S1, S2 (rows, error, pending row), S4, S5 (empty, errors), S6 and S7 of
 * flow A, S6 once submitted, S8 with rows, and S0 after logout.
 */
export async function walkFlowA(page: Page, me: Line, visit: Visit): Promise<void> {
  await loginAs(page, me);
  await expect(notificationFunctionRow(page)).toBeVisible();
  await visit('s1-top');

  await openDetail(page);
  await expect(providerRow(page, provider('P0003'))).toBeVisible();
  await visit('s2-detail');

  await button(page, '「通知しない」に設定').click();
  await expectSummary(page, '通知先を選択してください');
  await visit('s2-error');

  await providerCheckbox(page, provider('P0001')).check();
  await button(page, '「通知しない」に設定').click();
  await expectScreen(page, heading.consent);
  await expect(page.getByText('（版：E2E-1）')).toBeVisible();
  await visit('s4-consent');

  await agree(page);
  await visit('s5-applicant');

  await button(page, '次へ').click();
  await expectSummary(page, 'お名前を入力してください');
  await visit('s5-errors');

  await fillApplicant(page);
  await button(page, '次へ').click();
  await expectScreen(page, heading.confirm);
  await visit('s6-confirm-flow-a');

  await button(page, '変更').click();
  await expectScreen(page, heading.complete);
  const id = described(page, 'お申し込みID');
  await expect(id).toHaveText(/^\d{16}$/);
  const applicationId = (await id.innerText()).trim();

  // At once, while the work (4 s) runs: P0001 is being worked.
  await page.getByRole('link', { name: 'トップページへ' }).click();
  await openDetail(page);
  await expect(providerRow(page, provider('P0001'))).toContainText('変更中');
  await visit('s2-pending');

  await page.getByRole('link', { name: 'トップページへ' }).click();
  await button(page, '申込履歴').click();
  await expectScreen(page, heading.history);
  await expect(page.getByRole('row').filter({ has: page.getByRole('cell') })).toHaveCount(1);
  await visit('s8-history');

  await page.getByRole('link', { name: applicationId, exact: true }).click();
  await expectScreen(page, heading.complete);
  await expect(described(page, 'お申し込みID')).toHaveText(applicationId);
  await visit('s7-receipt-flow-a');

  // A step of the submitted flow says so instead of offering 「変更」 again.
  await page.goto('/notification/apply/confirm');
  await expectScreen(page, 'お申し込みは受付済みです');
  await visit('s6-submitted');

  await button(page, 'ログアウト').click();
  await expectScreen(page, heading.login);
  await expect(page.getByRole('status')).toHaveText('ログアウトしました');
  await visit('s0-logged-out');
}

/**
 * S2, S9 and S8 empty, S3 (page 1, with an error, a middle page), S4 → S7
 * of flow B.
 */
export async function walkFlowB(page: Page, me: Line, visit: Visit): Promise<void> {
  await loginAs(page, me);
  await openDetail(page);
  await expect(page.getByText('「通知する」に設定している通知先はありません。')).toBeVisible();
  await visit('s2-empty');

  await button(page, '通知履歴').click();
  await expectScreen(page, heading.disclosures);
  await expect(page.getByText('通知履歴はありません。')).toBeVisible();
  await visit('s9-empty');

  await page.getByRole('link', { name: 'トップページへ' }).click();
  await button(page, '申込履歴').click();
  await expectScreen(page, heading.history);
  await expect(page.getByText('お申し込みはまだありません。')).toBeVisible();
  await visit('s8-empty');

  await page.getByRole('link', { name: 'トップページへ' }).click();
  await openDetail(page);
  await button(page, '通知先追加').click();
  await expectScreen(page, heading.add);
  await expect(page.getByText('(ページ 1/3 ページ)', { exact: true })).toBeVisible();
  await visit('s3-page-1');

  await button(page, '「通知する」に設定').click();
  await expectSummary(page, '通知先を選択してください');
  await visit('s3-error');

  await providerCheckbox(page, provider('P0001')).check();
  await button(page, '次のページ').click();
  await expect(page.getByText('(ページ 2/3 ページ)', { exact: true })).toBeVisible();
  await providerCheckbox(page, provider('P0030')).check();
  await visit('s3-page-2');

  await button(page, '「通知する」に設定').click();
  await agree(page);
  await fillApplicant(page, { name: '佐藤 花子', phone: '090-1234-5678', email: '', wantsMail: false });
  await button(page, '次へ').click();
  await expectScreen(page, heading.confirm);
  await visit('s6-confirm-flow-b');

  await button(page, '変更').click();
  await expectScreen(page, heading.complete);
  await expect(described(page, 'お申し込みID')).toHaveText(/^\d{16}$/);
  await visit('s7-receipt-flow-b');
}

/** The widths every screen is checked at: a small phone, a tablet, a desktop. */
export const widths = [320, 768, 1280] as const;

/** Where the screenshots of every screen at every width go (a test artefact). */
export function screenshotPath(testInfo: TestInfo, state: string, width: number): string {
  return path.join(testInfo.project.outputDir, 'screenshots', `${state}-${width}.png`);
}

/**
 * At each width: no horizontal scrolling, targets of 24×24 px at least, and
 * a full-page screenshot. Leaves the viewport at the last width.
 */
export async function checkWidths(page: Page, state: string, testInfo: TestInfo): Promise<void> {
  for (const width of widths) {
    await page.setViewportSize({ width, height: 900 });
    const { scrollWidth, clientWidth } = await page.evaluate(() => {
      const root = document.scrollingElement ?? document.documentElement;
      return { scrollWidth: root.scrollWidth, clientWidth: root.clientWidth };
    });
    expect.soft(scrollWidth, `horizontal scrolling on ${state} at ${width} px`).toBeLessThanOrEqual(clientWidth);
    expect.soft(await smallTargets(page), `targets under 24×24 px on ${state} at ${width} px`).toEqual([]);
    await page.screenshot({ path: screenshotPath(testInfo, state, width), fullPage: true });
  }
}
