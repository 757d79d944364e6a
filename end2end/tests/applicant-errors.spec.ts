/**
 * S5 申込者情報入力: the rules of SPEC §4, the error-summary pattern, and
 * entries kept whichever way the subscriber leaves and comes back.
 */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import {
  agree,
  described,
  expectScreen,
  fillApplicant,
  heading,
  line,
  loginAs,
  mailChoice,
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

const field = {
  name: (page: Page) => page.getByLabel('お名前', { exact: true }),
  phone: (page: Page) => page.getByLabel('ご連絡先電話番号', { exact: true }),
  email: (page: Page) => page.getByLabel('ご連絡先メールアドレス', { exact: true }),
  mail: (page: Page) => page.getByRole('group', { name: '工事完了通知メール' }),
};

function next(page: Page) {
  return page.getByRole('button', { name: '次へ', exact: true }).click();
}

test('「次へ」 with nothing entered lists every missing field in a focused summary and at each field', async ({ page }) => {
  await toApplicant(page, line(9));
  await expect(page).not.toHaveTitle(/^エラー：/);

  await next(page);

  const summary = page.getByRole('alert');
  const messages = {
    name: 'お名前を入力してください',
    phone: 'ご連絡先電話番号を入力してください',
    mail: '工事完了通知メールの「希望する」か「希望しない」を選んでください',
  };
  await expect(summary).toBeFocused();
  for (const message of Object.values(messages)) {
    await expect(summary.getByRole('link', { name: message, exact: true })).toBeVisible();
  }
  await expect(page).toHaveTitle(/^エラー：回線情報通知 申込者情報入力/);
  await expectScreen(page, heading.applicant);
  await expect(field.name(page)).toHaveAccessibleDescription(new RegExp(messages.name));
  await expect(field.name(page)).toHaveAttribute('aria-invalid', 'true');
  await expect(field.phone(page)).toHaveAccessibleDescription(new RegExp(messages.phone));
  await expect(field.mail(page)).toHaveAccessibleDescription(new RegExp(messages.mail));
  // The address is optional until 「希望する」 is chosen.
  await expect(field.email(page)).toHaveAttribute('aria-invalid', 'false');

  // Each entry of the summary leads to its field.
  await summary.getByRole('link', { name: messages.phone, exact: true }).click();
  await expect(field.phone(page)).toBeFocused();
});

test('a name with ① and a carrier address are refused saying why, and the entries are kept', async ({ page }) => {
  await toApplicant(page, line(10));
  const entries = { name: '山田①太郎', phone: '0312345678', email: 'taro@docomo.ne.jp', wantsMail: true };
  await fillApplicant(page, entries);

  await next(page);

  const summary = page.getByRole('alert');
  await expect(summary).toContainText('「①」');
  await expect(summary).toContainText('携帯電話会社');
  await expect(field.name(page)).toHaveAccessibleDescription(/「①」/);
  await expect(field.email(page)).toHaveAccessibleDescription(/携帯電話会社/);
  await expect(field.phone(page)).toHaveAttribute('aria-invalid', 'false');
  await expect(page).toHaveTitle(/^エラー：/);
  await expectScreen(page, heading.applicant);

  await expect(field.name(page)).toHaveValue(entries.name);
  await expect(field.phone(page)).toHaveValue(entries.phone);
  await expect(field.email(page)).toHaveValue(entries.email);
  await expect(mailChoice(page, true)).toBeChecked();

  // 「希望する」 needs an address.
  await field.email(page).fill('');
  await next(page);
  await expect(field.email(page)).toHaveAccessibleDescription(/ご連絡先メールアドレスを入力してください/);
});

test('entries are kept going back from S6, by button or by browser, and 「戻る」 leads to S4', async ({ page }) => {
  await toApplicant(page, line(11));
  // Full-width digits and dash are accepted and normalised (SPEC §4).
  const entries = { name: '佐藤 﨑子', phone: '０６－１２３４－５６７８', email: 'sakiko@example.jp', wantsMail: false };
  await fillApplicant(page, entries);
  await next(page);

  await expectScreen(page, heading.confirm);
  await expect(described(page, 'お名前')).toHaveText('佐藤 﨑子');
  await expect(described(page, 'ご連絡先電話番号')).toHaveText('06-1234-5678');
  await expect(described(page, '工事完了通知メール')).toHaveText('希望しない');

  const expectKept = async () => {
    await expectScreen(page, heading.applicant);
    await expect(field.name(page)).toHaveValue(entries.name);
    await expect(field.phone(page)).toHaveValue(entries.phone);
    await expect(field.email(page)).toHaveValue(entries.email);
    await expect(mailChoice(page, false)).toBeChecked();
    await expect(mailChoice(page, true)).not.toBeChecked();
  };

  await page.getByRole('button', { name: '前画面へ戻る', exact: true }).click();
  await expectKept();

  await next(page);
  await expectScreen(page, heading.confirm);
  await page.goBack();
  await expectKept();

  await page.getByRole('button', { name: '戻る', exact: true }).click();
  await expectScreen(page, heading.consent);
  // …and forward again with the entries still there.
  await page.getByRole('button', { name: '同意する', exact: true }).click();
  await expectKept();
});

// Typing key by key (not `fill()`, which sets the whole value at once): a
// re-render of the step on each keystroke would move the focus away.
test('typing into a field of S5 keeps the focus there', async ({ page }) => {
  await toApplicant(page, line(12));
  await field.name(page).click();
  await page.keyboard.type('山田 太郎');
  await expect(field.name(page)).toBeFocused();
  await expect(field.name(page)).toHaveValue('山田 太郎');
  await page.keyboard.press('Tab');
  await expect(field.phone(page)).toBeFocused();
  await page.keyboard.type('03-1234-5678');
  await expect(field.phone(page)).toHaveValue('03-1234-5678');
});
