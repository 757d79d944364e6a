/**
 * The client's split (app/src/routes.rs, xtask/src/client.rs): S0 is drawn
 * and works from the first load alone; the screens after it are in a lazy
 * file, fetched once S0 is drawn. When that file cannot be fetched, the
 * subscriber is told so, and 「再読み込み」 fetches it again.
 */
import { expect, test } from './fixtures';
import { expectScreen, heading, line } from './helpers';

const lazyFiles = '**/assets/lazy-*.wasm';

test('S0 works without the lazy file; a screen says when it cannot be fetched, and shows once it can', async ({
  page,
  browserErrors,
}) => {
  // The aborted fetches, as Chromium and the split's loader report them.
  browserErrors.allow(/^console\.error: Failed to load resource: net::ERR_FAILED$/);
  browserErrors.allow(/^console\.error: TypeError: Failed to fetch\b/);
  const refused: string[] = [];
  await page.route(lazyFiles, (route) => {
    refused.push(new URL(route.request().url()).pathname);
    return route.abort();
  });
  const me = line(33);

  await page.goto('/');
  await expectScreen(page, heading.login);
  // The form's own checks, with no lazy file.
  await page.getByRole('button', { name: 'ログイン', exact: true }).click();
  await expect(page.getByRole('alert')).toContainText('フレッツナンバーを入力してください');
  await page.getByLabel('フレッツナンバー').fill(me.customerId);
  await page.getByLabel('アクセスキー').fill(me.accessKey);
  await page.getByRole('button', { name: 'ログイン', exact: true }).click();

  await expectScreen(page, 'ページを表示できませんでした');
  await expect(page).toHaveURL(/\/top$/);
  await expect(page.getByRole('alert')).toHaveText(
    '通信エラーが発生しました。通信環境をご確認のうえ、もう一度お試しください',
  );
  // Fetched once when S0 was drawn, and again for S1.
  expect(refused.length).toBeGreaterThanOrEqual(2);
  expect(refused.every((p) => /^\/assets\/lazy-[a-z_0-9]+-[0-9a-f]{16}\.wasm$/.test(p))).toBe(true);

  await page.unroute(lazyFiles);
  await page.getByRole('button', { name: '再読み込み', exact: true }).click();
  await expectScreen(page, heading.top);
  await expect(page.getByText(`お客さまID: ${me.customerId}`, { exact: true })).toBeVisible();
});
