/**
 * The operator console (SPEC §5) as its specs drive it: the accounts
 * serve.sh makes (`kaisen operator add`, the one-time password saved in
 * the server's folder), TOTP codes computed as an authenticator app does
 * (RFC 6238, with node:crypto), the first login's setup, and the
 * subscriber API calls that give the console something to find.
 */
import { createHmac, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { APIRequestContext, Locator, Page } from '@playwright/test';
import { expect } from './fixtures';
import { applicant, type Line } from './helpers';

/** The console's headings (its pages' `h1`). */
export const consoleHeading = {
  login: 'オペレーターログイン',
  setup: '初回設定',
  home: '照会',
  application: '申込照会',
  line: '回線照会',
  unlocked: 'ロック解除',
  outbox: 'メール送信待ち',
  events: '通知イベント',
  actions: '操作履歴',
  operators: 'オペレーター管理',
  notFound: 'ページが見つかりません',
} as const;

/** The password every test operator chooses at the first login: 12
 * characters or more, not containing the name. */
export const newPassword = 'e2e-correct-horse-battery';

/** The one-time password `kaisen operator add` printed for `name`, which
 * serve.sh saved into the server of `dataDir` (its operators/ folder). */
export function oneTimePassword(dataDir: string, name: string): string {
  const file = path.join(__dirname, '..', dataDir, 'operators', name);
  const password = fs.readFileSync(file, 'utf8').trim();
  expect(password, `the one-time password in ${file}`).toMatch(/^[A-Za-z0-9]{16}$/);
  return password;
}

/** The bytes of RFC 4648 base32 `text` (spaces and padding ignored). */
function base32Decode(text: string): Buffer {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of text.replace(/[\s=]/g, '').toUpperCase()) {
    const value = alphabet.indexOf(char);
    if (value < 0) throw new Error(`not base32: ${char} in ${text}`);
    buffer = ((buffer << 5) | value) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((buffer >> bits) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/**
 * The TOTP code of the base32 `secret` at `unixSecs` (RFC 6238 with
 * RFC 4226's HOTP: HMAC-SHA-1 of the 30-second step as 8 bytes big-endian,
 * dynamic truncation, 6 digits). The console accepts each step once, so a
 * login after the enrolment needs a later step's code: `now() + 30`.
 */
export function totp(secret: string, unixSecs: number = now()): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSecs / 30)));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, '0');
}

/** This machine's clock (the server's too), in unix seconds. */
export function now(): number {
  return Math.floor(Date.now() / 1000);
}

/** Expects the console page with this `h1`. */
export async function expectConsolePage(page: Page, name: string): Promise<void> {
  await expect(page.getByRole('heading', { level: 1, name, exact: true })).toBeVisible();
}

/** Fills the login form (the code empty at the first login) and sends it. */
export async function fillLogin(page: Page, name: string, password: string, code = ''): Promise<void> {
  await page.getByLabel('オペレーター名', { exact: true }).fill(name);
  await page.getByLabel('パスワード', { exact: true }).fill(password);
  await page.getByLabel('確認コード（6桁）', { exact: true }).fill(code);
  await page.getByRole('button', { name: 'ログイン', exact: true }).click();
}

/** The enrolment's secret as the setup page shows it (its
 * 「シークレットキー：」, grouped by four characters), without the spaces. */
export async function shownSecret(page: Page): Promise<string> {
  const shown = page.getByText(/^シークレットキー：/);
  await expect(shown).toHaveText(/^シークレットキー：([A-Z2-7]{4} )*[A-Z2-7]{1,4}$/);
  return (await shown.innerText()).replace('シークレットキー：', '').replace(/\s/g, '');
}

/**
 * On the setup page: checks the QR code is there, reads the secret, sets
 * {@link newPassword} and enrols with the code of now; lands on the home
 * page. Returns the secret.
 */
export async function enrol(page: Page): Promise<string> {
  await expectConsolePage(page, consoleHeading.setup);
  await expect(page.getByRole('img', { name: '確認コード登録用のQRコード', exact: true })).toBeVisible();
  const secret = await shownSecret(page);
  expect(secret, '160 bits in base32').toHaveLength(32);
  await page.getByLabel('新しいパスワード', { exact: true }).fill(newPassword);
  await page.getByLabel('新しいパスワード（確認）', { exact: true }).fill(newPassword);
  await page.getByLabel('確認コード（6桁）', { exact: true }).fill(totp(secret));
  await page.getByRole('button', { name: '設定する', exact: true }).click();
  await expectConsolePage(page, consoleHeading.home);
  return secret;
}

/** The subscriber API's answer to a login of `customerId` with `accessKey`
 * (`POST /api/session`), as its status. */
export async function apiLogin(request: APIRequestContext, customerId: string, accessKey: string): Promise<number> {
  const response = await request.post('/api/session', {
    data: { customer_id: customerId, access_key: accessKey },
  });
  return response.status();
}

/** The failed logins in a row that lock a customer ID (SPEC §4). */
export const failuresToLock = 10;

/** Locks `l`'s customer ID: ten logins with a wrong key through the
 * subscriber API, the tenth answered 423; then the right key is refused
 * too. */
export async function lockOut(request: APIRequestContext, l: Line): Promise<void> {
  for (let i = 1; i <= failuresToLock; i++) {
    expect(await apiLogin(request, l.customerId, `${l.accessKey}x`), `failed login ${i}`).toBe(
      i < failuresToLock ? 401 : 423,
    );
  }
  expect(await apiLogin(request, l.customerId, l.accessKey), 'the right key while locked').toBe(423);
}

/** Submits an application of `l` through the subscriber API as the client
 * does at 「変更」 (`POST /api/applications`): `providers` set to `setting`.
 * Returns its お申し込みID. */
export async function submitByApi(
  request: APIRequestContext,
  l: Line,
  setting: 'notify' | 'do_not_notify',
  providers: string[],
): Promise<string> {
  expect(await apiLogin(request, l.customerId, l.accessKey)).toBe(200);
  const consent = await request.get('/api/consent');
  expect(consent.status()).toBe(200);
  const response = await request.post('/api/applications', {
    data: {
      idempotency_key: randomUUID(),
      consent_hash: (await consent.json()).hash,
      setting,
      providers,
      applicant: { ...applicant, wants_mail: true },
    },
  });
  expect(response.status(), await response.text()).toBe(201);
  const { id } = await response.json();
  expect(id).toMatch(/^\d{16}$/);
  return id;
}

/** A link of the console's menu. */
export function menuLink(page: Page, name: string): Locator {
  return page.getByRole('navigation', { name: 'コンソールのメニュー' }).getByRole('link', { name, exact: true });
}

/** The digit the specs mis-hear in an お申し込みID: the first of its number
 * of the day. */
export const misheardDigit = 8;

/** `id` with its digit at `index` changed, as a mis-heard ID would be: its
 * check digit no longer matches. */
export function misheard(id: string, index: number): string {
  const digit = Number(id[index]);
  return `${id.slice(0, index)}${(digit + 1) % 10}${id.slice(index + 1)}`;
}
