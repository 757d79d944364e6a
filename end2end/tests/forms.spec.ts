/**
 * The forms as SPEC §4 says: marks and hints with an example at each field,
 * the browser's autofill and keyboards (autocomplete, inputmode), our own
 * error summary instead of the browser's validation bubbles, in the same
 * words as at the fields; and S6's 「修正」 for the applicant's details.
 */
import type { Locator, Page } from '@playwright/test';
import { expect, test } from './fixtures';
import {
  agree,
  applicant,
  described,
  expectScreen,
  fillApplicant,
  heading,
  line,
  loginAs,
  openDetail,
  provider,
  providerCheckbox,
  type Line,
} from './helpers';

/** Logs in as `l` and starts flow A for P0001, up to S5. */
async function toApplicant(page: Page, l: Line): Promise<void> {
  await loginAs(page, l);
  await openDetail(page);
  await providerCheckbox(page, provider('P0001')).check();
  await page.getByRole('button', { name: '「通知しない」に設定', exact: true }).click();
  await agree(page);
}

/** Expects the field's mark, and a hint with an example, in its description. */
async function expectMarkAndHint(field: Locator, mark: '※必須' | '※任意'): Promise<void> {
  await expect(field).toHaveAccessibleDescription(new RegExp(`^${mark} .*（例：[^）]+）`));
}

const field = {
  name: (page: Page) => page.getByLabel('お名前', { exact: true }),
  phone: (page: Page) => page.getByLabel('ご連絡先電話番号', { exact: true }),
  email: (page: Page) => page.getByLabel('ご連絡先メールアドレス', { exact: true }),
  mail: (page: Page) => page.getByRole('group', { name: '工事完了通知メール' }),
};

/**
 * Expects the error summary focused, with one link per field in error, each
 * leading to a field whose own message has the same words.
 */
async function expectSummaryMatchesFields(page: Page, count: number): Promise<void> {
  const summary = page.getByRole('alert');
  await expect(summary).toBeFocused();
  await expect(page).toHaveTitle(/^エラー：/);
  const links = summary.getByRole('link');
  await expect(links).toHaveCount(count);
  for (const link of await links.all()) {
    const id = (await link.getAttribute('href'))?.replace(/^#/, '');
    expect(id).toBeTruthy();
    await expect(page.locator(`[id="${id}-error"]`)).toHaveText((await link.innerText()).trim());
  }
}

test('S0 and S5 mark each field 「※必須」 or 「※任意」 with a hint and an example, and help autofill', async ({ page }) => {
  await page.goto('/');
  await expectScreen(page, heading.login);
  await expectMarkAndHint(page.getByLabel('フレッツナンバー'), '※必須');
  await expectMarkAndHint(page.getByLabel('アクセスキー'), '※必須');
  await expect(page.getByLabel('フレッツナンバー')).toHaveAttribute('autocomplete', 'username');
  await expect(page.getByLabel('アクセスキー')).toHaveAttribute('autocomplete', 'current-password');

  await toApplicant(page, line(28));
  await expectMarkAndHint(field.name(page), '※必須');
  await expectMarkAndHint(field.phone(page), '※必須');
  // The address is needed only for the completion mail.
  await expectMarkAndHint(field.email(page), '※任意');
  await expect(field.mail(page)).toHaveAccessibleDescription(/^※必須 /);
  await field.mail(page).getByRole('radio', { name: '希望する', exact: true }).check();
  await expectMarkAndHint(field.email(page), '※必須');

  const expected: [Locator, Record<string, string>][] = [
    [field.name(page), { type: 'text', autocomplete: 'name', inputmode: 'text' }],
    [field.phone(page), { type: 'tel', autocomplete: 'tel', inputmode: 'tel' }],
    [field.email(page), { type: 'email', autocomplete: 'email', inputmode: 'email' }],
  ];
  for (const [input, attributes] of expected) {
    for (const [name, value] of Object.entries(attributes)) {
      await expect(input).toHaveAttribute(name, value);
    }
  }
});

test('errors show in our summary, never in a browser bubble, in the words of each field', async ({ page }) => {
  await page.goto('/');
  await page.getByRole('button', { name: 'ログイン', exact: true }).click();
  await expectSummaryMatchesFields(page, 2);

  await toApplicant(page, line(30));
  await expect(page.locator('form')).toHaveJSProperty('noValidate', true);
  await page.getByRole('button', { name: '次へ', exact: true }).click();
  await expectSummaryMatchesFields(page, 3);

  // An address the browser itself finds invalid: our summary says why, so
  // no validation bubble held the form back.
  await fillApplicant(page, { ...applicant, email: 'taro@' });
  expect(await field.email(page).evaluate((el: HTMLInputElement) => el.validity.valid)).toBe(false);
  await page.getByRole('button', { name: '次へ', exact: true }).click();
  await expectSummaryMatchesFields(page, 1);
  await expect(field.email(page)).toHaveAttribute('aria-invalid', 'true');
  await expect(field.email(page)).toHaveValue('taro@');
  await expectScreen(page, heading.applicant);
});

test('「修正」 on S6 leads to S5 with the entries kept, and 「次へ」 returns to S6', async ({ page }) => {
  await toApplicant(page, line(28));
  await fillApplicant(page);
  await page.getByRole('button', { name: '次へ', exact: true }).click();
  await expectScreen(page, heading.confirm);
  await expect(described(page, 'お名前')).toHaveText(applicant.name);

  await page.getByRole('link', { name: '修正', exact: true }).click();
  await expectScreen(page, heading.applicant);
  await expect(field.name(page)).toHaveValue(applicant.name);
  await expect(field.phone(page)).toHaveValue(applicant.phone);
  await expect(field.email(page)).toHaveValue(applicant.email);
  await field.name(page).fill('山田 花子');
  await page.getByRole('button', { name: '次へ', exact: true }).click();

  await expectScreen(page, heading.confirm);
  await expect(described(page, 'お名前')).toHaveText('山田 花子');
  await expect(providerCheckbox(page, provider('P0001'))).toHaveCount(0);
  await expect(page.getByRole('button', { name: '変更', exact: true })).toBeEnabled();
});
