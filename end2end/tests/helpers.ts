/**
 * The test data (fixtures/lines.json, loaded by serve.sh) and the steps the
 * journeys share. Every test uses its own line, so tests running in parallel
 * never see each other's applications.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Locator, Page } from '@playwright/test';
import data from '../fixtures/lines.json';
import { expect } from './fixtures';

/** A line of the fixture file. */
export interface Line {
  customerId: string;
  accessKey: string;
}

/** A provider of the fixture file. */
export interface Provider {
  code: string;
  serviceName: string;
  name: string;
  /** 利用目的; P0003 and P0040 state none. */
  purpose?: string;
}

/** What a provider that stated no 利用目的 shows in its place (S2, S3, S4, S6). */
export const noPurpose = '（未登録）';

/** The 利用目的 a provider's row shows. */
export function purposeOf(p: Provider): string {
  return p.purpose ?? noPurpose;
}

/**
 * Line number `n` (1–47): `CAF10000000nn`, key `E2e-Key-nn`. Lines 5 and
 * 31–33 notify no provider, line 47 P0002 and P0003; every other line
 * notifies P0001–P0003 (初期設定, 2025/04/01). Line 45 alone has an IPv6
 * prefix (the file's `prefixes`), and P0001 alone is registered for the
 * provider API (its key in fixtures/).
 * Each test has its own line:
 * flow-a 1, 2, 3, 23 · flow-b 4, 5, 6 · consent-refused 7, 8 ·
 * applicant-errors 9–12 · reload 13–16, 22 · print 17 · logout 18–20, 38, 40 ·
 * history 21 · accessibility 24, 31 · widths 25, 32 · keyboard 26, 27 ·
 * forms 28, 30 · readme-screenshots 29 · tls 39 · disclosures 41–44 ·
 * provider-lookup 45 · console 46 · console-accessibility 47 · lazy 33.
 * session-timeout uses line 1 on its own server (servers.ts), the
 * kaisen.test and tls projects run flow-a and logout again on theirs, the
 * postgres project the console journey (line 46) again on its own, and
 * other-engines.sh uses lines 34–37 on another, each with its own database.
 */
export function line(n: number): Line {
  const entry = data.lines[n - 1];
  if (!entry) throw new Error(`the fixture file has no line ${n}`);
  return { customerId: entry.customer_id, accessKey: entry.access_key };
}

/** The provider with `code`, e.g. `P0001`. */
export function provider(code: string): Provider {
  const entry = data.providers.find((p) => p.code === code);
  if (!entry) throw new Error(`the fixture file has no provider ${code}`);
  return { code: entry.code, serviceName: entry.service_name, name: entry.name, purpose: entry.purpose };
}

/** Every provider of the fixture file. */
export const providerCount = data.providers.length;

/** The screens' headings (SPEC §3). */
export const heading = {
  login: 'サービス申込受付ページ',
  detail: '回線情報通知 ご利用状況詳細',
  add: '回線情報通知「通知」設定登録',
  consent: '「回線情報通知」の利用にあたっての同意書',
  applicant: '回線情報通知 申込者情報入力',
  confirm: '回線情報通知 変更内容確認',
  complete: '回線情報通知 変更受付完了',
  top: 'ご利用サービス一覧',
  history: '申込履歴',
  disclosures: '回線情報通知 通知履歴',
} as const;

/** Expects the screen with this heading. */
export async function expectScreen(page: Page, name: string): Promise<void> {
  await expect(page.getByRole('heading', { level: 1, name, exact: true })).toBeVisible();
}

/** Expects the screen's data loaded: its 「読み込み中です…」 status gone. */
export async function expectLoaded(page: Page): Promise<void> {
  await expect(page.getByRole('status').filter({ hasText: '読み込み中です…' })).toHaveCount(0);
}

/** Logs in on S0 with the given ID and key, and waits for S1. */
export async function login(page: Page, customerId: string, accessKey: string): Promise<void> {
  await page.goto('/');
  await expectScreen(page, heading.login);
  await page.getByLabel('フレッツナンバー').fill(customerId);
  await page.getByLabel('アクセスキー').fill(accessKey);
  await page.getByRole('button', { name: 'ログイン', exact: true }).click();
  await expect(page.getByText(/^お客さまID: CAF\d{10}$/)).toBeVisible();
}

/** Logs in as `l`. */
export async function loginAs(page: Page, l: Line): Promise<void> {
  await login(page, l.customerId, l.accessKey);
  await expect(page.getByText(`お客さまID: ${l.customerId}`, { exact: true })).toBeVisible();
}

/** The S1 row 「回線情報通知機能」. */
export function notificationFunctionRow(page: Page): Locator {
  return page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: '回線情報通知機能', exact: true }) });
}

/** The status (ご利用状況) of 「回線情報通知機能」 on S1. */
export function notificationFunctionStatus(page: Page): Locator {
  return notificationFunctionRow(page).getByRole('cell').first();
}

/** From S1, opens S2 with 「詳細・変更」. */
export async function openDetail(page: Page): Promise<void> {
  await notificationFunctionRow(page).getByRole('button', { name: '詳細・変更', exact: true }).click();
  await expectScreen(page, heading.detail);
}

/** The table row of a provider (S2, S3, S6, S7), found by its name. */
export function providerRow(page: Page, p: Pick<Provider, 'name'>): Locator {
  return page.getByRole('row').filter({ has: page.getByRole('cell', { name: p.name, exact: true }) });
}

/** The cell of `column` (its header's text) in the row of `p` on the screen's table. */
export async function cellOf(page: Page, p: Pick<Provider, 'name'>, column: string): Promise<Locator> {
  const headers = await page.getByRole('columnheader').allInnerTexts();
  const index = headers.map((h) => h.trim()).indexOf(column);
  expect(index, `a column 「${column}」`).toBeGreaterThanOrEqual(0);
  return providerRow(page, p).getByRole('cell').nth(index);
}

/** The data rows of the screen's table (not its header row). */
export function dataRows(page: Page): Locator {
  return page.getByRole('row').filter({ has: page.getByRole('cell') });
}

/** `YYYY/MM/DD HH:MM:SS` in Japan, as the portal shows times (S2's
 * 最終通知日時, S7, S9), of `secs` unix seconds. */
export function jst(secs: number): string {
  const d = new Date((secs + 9 * 3600) * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}/${two(d.getUTCMonth() + 1)}/${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
}

/** The checkbox of a provider on S2 or S3, labelled with its name. */
export function providerCheckbox(page: Page, p: Pick<Provider, 'name'>): Locator {
  return page.getByRole('checkbox', { name: p.name, exact: true });
}

/** The value of a term in a description list (S7's お申し込みID, 受付日時…). */
export function described(page: Page, term: string): Locator {
  return page
    .locator('dl > div')
    .filter({ has: page.getByRole('term').getByText(term, { exact: true }) })
    .getByRole('definition');
}

/** The number of pages of a PDF: its page objects (`/Type /Page`, not
 * `/Type /Pages`). Chromium writes them uncompressed. */
export function pdfPageCount(pdf: Buffer): number {
  return pdf.toString('latin1').match(/\/Type\s*\/Page(?![a-zA-Z])/g)?.length ?? 0;
}

/** The applicant used when a test does not care. */
export const applicant = {
  name: '山田 太郎',
  phone: '03-1234-5678',
  email: 'taro@example.jp',
} as const;

/** S4: agrees to the consent document. */
export async function agree(page: Page): Promise<void> {
  await expectScreen(page, heading.consent);
  await page.getByRole('button', { name: '同意する', exact: true }).click();
  await expectScreen(page, heading.applicant);
}

/** S5: fills the form (「希望する」 unless told) without pressing 「次へ」. */
export async function fillApplicant(
  page: Page,
  entries: { name: string; phone: string; email: string; wantsMail?: boolean } = applicant,
): Promise<void> {
  await page.getByLabel('お名前', { exact: true }).fill(entries.name);
  await page.getByLabel('ご連絡先電話番号', { exact: true }).fill(entries.phone);
  await page.getByLabel('ご連絡先メールアドレス', { exact: true }).fill(entries.email);
  await mailChoice(page, entries.wantsMail ?? true).check();
}

/** A radio button of 「工事完了通知メール」. */
export function mailChoice(page: Page, wanted: boolean): Locator {
  return page
    .getByRole('group', { name: '工事完了通知メール' })
    .getByRole('radio', { name: wanted ? '希望する' : '希望しない', exact: true });
}

/** S5: fills the form and goes on to S6. */
export async function enterApplicant(page: Page): Promise<void> {
  await fillApplicant(page);
  await page.getByRole('button', { name: '次へ', exact: true }).click();
  await expectScreen(page, heading.confirm);
}

/** S6: presses 「変更」 and returns the お申し込みID shown on S7. */
export async function submit(page: Page): Promise<string> {
  await page.getByRole('button', { name: '変更', exact: true }).click();
  await expectScreen(page, heading.complete);
  const id = described(page, 'お申し込みID');
  await expect(id).toHaveText(/^\d{16}$/);
  return (await id.innerText()).trim();
}

/** Flow A from S2: ticks `providers`, 「「通知しない」に設定」, and on to S6. */
export async function flowAToConfirm(page: Page, providers: Provider[]): Promise<void> {
  for (const p of providers) await providerCheckbox(page, p).check();
  await page.getByRole('button', { name: '「通知しない」に設定', exact: true }).click();
  await agree(page);
  await enterApplicant(page);
}

/** Flow A from S2 to the receipt; returns the お申し込みID. */
export async function applyFlowA(page: Page, providers: Provider[]): Promise<string> {
  await flowAToConfirm(page, providers);
  return submit(page);
}

/** The application's work takes 4 s (serve.sh); this bounds the wait for it. */
export const workDone = { timeout: 20_000, intervals: [500] };

/** The completion mails the server of `dataDir` (the `dataDir` fixture;
 * serve.sh writes them into its mail/) has sent so far to `address`, as text
 * (headers as written; a base64 body decoded). */
export function mailsTo(dataDir: string, address: string): string[] {
  const mailDir = path.join(__dirname, '..', dataDir, 'mail');
  if (!fs.existsSync(mailDir)) return [];
  return fs
    .readdirSync(mailDir)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => fs.readFileSync(path.join(mailDir, f), 'utf8'))
    .filter((m) => new RegExp(`^To: ${address.replace(/[.+]/g, '\\$&')}\\r?$`, 'm').test(m))
    .map((m) => {
      const [head, ...body] = m.split(/\r?\n\r?\n/);
      const raw = body.join('\n\n');
      const text = /^Content-Transfer-Encoding: base64\r?$/im.test(head)
        ? Buffer.from(raw.replace(/\s+/g, ''), 'base64').toString('utf8')
        : raw;
      return `${head}\n\n${text}`;
    });
}
