/**
 * Both flows by keyboard alone (SPEC §6): Tab, Shift+Tab, Space and Enter,
 * no mouse and no `fill()`. Every element reached shows a focus ring; each
 * new step puts the focus on its heading (so a screen reader announces the
 * step), and an error puts it on the error summary.
 */
import type { Locator, Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { applicant, described, expectLoaded, heading, line, provider, type Line } from './helpers';

/** Whether the focused element shows a focus ring (an outline or a box shadow). */
async function focusRingShown(page: Page): Promise<string | null> {
  return page.evaluate(() => {
    const el = document.activeElement;
    if (!el || el === document.body) return 'nothing has the focus';
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
    const shadow = style.boxShadow !== 'none';
    return outline || shadow ? null : `no focus ring on ${el.outerHTML.slice(0, 80)}`;
  });
}

/**
 * Presses `key` (Tab or Shift+Tab) until `target` has the focus, at most
 * `max` times; each element on the way must show its focus ring.
 */
async function moveFocusTo(page: Page, target: Locator, key: 'Tab' | 'Shift+Tab' = 'Tab', max = 40): Promise<void> {
  await expect(target).toBeVisible();
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(key);
    expect(await focusRingShown(page)).toBeNull();
    if (await target.evaluate((el) => el === document.activeElement)) return;
  }
  throw new Error(`${key} × ${max} never reached ${target}`);
}

/** Expects the step with this heading, its heading focused. */
async function expectStepFocused(page: Page, name: string): Promise<void> {
  const h1 = page.getByRole('heading', { level: 1, name, exact: true });
  await expect(h1).toBeFocused();
  await expect(h1).toHaveAttribute('tabindex', '-1');
}

const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });
const checkbox = (page: Page, code: string) =>
  page.getByRole('checkbox', { name: provider(code).name, exact: true });

/** S0 → S1 → S2, by keyboard. */
async function logInAndOpenDetail(page: Page, me: Line): Promise<void> {
  await page.goto('/');
  await expectStepFocused(page, heading.login);
  await moveFocusTo(page, page.getByLabel('フレッツナンバー'));
  await page.keyboard.type(me.customerId);
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('アクセスキー')).toBeFocused();
  await page.keyboard.type(me.accessKey);
  await page.keyboard.press('Enter');

  await expectStepFocused(page, 'ご利用サービス一覧');
  await moveFocusTo(page, button(page, '詳細・変更'));
  await page.keyboard.press('Enter');
  await expectStepFocused(page, heading.detail);
}

/** S4 → S5 → S6 → S7, by keyboard, with S5's error summary on the way. */
async function agreeEnterAndSubmit(page: Page): Promise<string> {
  await expectStepFocused(page, heading.consent);
  // Until the document is loaded 「同意する」 is disabled, and Tab passes it.
  await expectLoaded(page);
  await moveFocusTo(page, button(page, '同意する'));
  await page.keyboard.press('Enter');

  await expectStepFocused(page, heading.applicant);
  await moveFocusTo(page, button(page, '次へ'));
  await page.keyboard.press('Enter');
  const summary = page.getByRole('alert');
  await expect(summary).toBeFocused();
  await expect(page).toHaveTitle(/^エラー：/);
  // The summary's first link leads to the name field.
  await moveFocusTo(page, summary.getByRole('link', { name: 'お名前を入力してください' }));
  await page.keyboard.press('Enter');
  await expect(page.getByLabel('お名前', { exact: true })).toBeFocused();
  await page.keyboard.type(applicant.name);
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('ご連絡先電話番号', { exact: true })).toBeFocused();
  await page.keyboard.type(applicant.phone);
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('ご連絡先メールアドレス', { exact: true })).toBeFocused();
  await page.keyboard.type(applicant.email);
  const wanted = page.getByRole('radio', { name: '希望する', exact: true });
  await moveFocusTo(page, wanted);
  await page.keyboard.press('Space');
  await expect(wanted).toBeChecked();
  await moveFocusTo(page, button(page, '次へ'));
  await page.keyboard.press('Enter');

  await expectStepFocused(page, heading.confirm);
  await expect(described(page, 'お名前')).toHaveText(applicant.name);
  await moveFocusTo(page, button(page, '変更'));
  await page.keyboard.press('Enter');

  await expectStepFocused(page, heading.complete);
  const id = described(page, 'お申し込みID');
  await expect(id).toHaveText(/^\d{16}$/);
  await moveFocusTo(page, button(page, '画面印刷（保存）'));
  return (await id.innerText()).trim();
}

test('flow A can be done by keyboard alone, the focus visible and on each new heading', async ({ page }) => {
  await logInAndOpenDetail(page, line(26));

  // Nothing ticked: the error summary takes the focus.
  await moveFocusTo(page, button(page, '「通知しない」に設定'));
  await page.keyboard.press('Enter');
  await expect(page.getByRole('alert')).toBeFocused();
  await expect(page.getByRole('alert')).toContainText('通知先を選択してください');

  // On to the second row's checkbox, back to the first, and forward to the
  // button again.
  await moveFocusTo(page, checkbox(page, 'P0002'));
  await moveFocusTo(page, checkbox(page, 'P0001'), 'Shift+Tab');
  await page.keyboard.press('Space');
  await expect(checkbox(page, 'P0001')).toBeChecked();
  await moveFocusTo(page, button(page, '「通知しない」に設定'));
  await page.keyboard.press('Enter');

  await agreeEnterAndSubmit(page);
  await expect(page.getByRole('row').filter({ hasText: provider('P0001').name })).toContainText('通知しない');
});

test('flow B can be done by keyboard alone, across S3 pages, the focus visible and on each new heading', async ({ page }) => {
  await logInAndOpenDetail(page, line(27));
  await moveFocusTo(page, button(page, '通知先追加'));
  await page.keyboard.press('Enter');

  await expectStepFocused(page, heading.add);
  await expect(page.getByText('(ページ 1/3 ページ)', { exact: true })).toBeVisible();
  await moveFocusTo(page, checkbox(page, 'P0004'));
  await page.keyboard.press('Space');
  await expect(checkbox(page, 'P0004')).toBeChecked();
  await moveFocusTo(page, button(page, '次のページ'));
  await page.keyboard.press('Enter');

  // The new page is announced: the focus goes to its status line.
  await expect(page.getByText('(ページ 2/3 ページ)', { exact: true })).toBeVisible();
  const status = page.locator('.paging-status');
  await expect(status).toBeFocused();
  await moveFocusTo(page, checkbox(page, 'P0030'));
  await page.keyboard.press('Space');
  await expect(checkbox(page, 'P0030')).toBeChecked();
  await moveFocusTo(page, button(page, '「通知する」に設定'));
  await page.keyboard.press('Enter');

  await agreeEnterAndSubmit(page);
  for (const code of ['P0004', 'P0030']) {
    await expect(page.getByRole('row').filter({ hasText: provider(code).name })).toContainText('通知する');
  }
});
