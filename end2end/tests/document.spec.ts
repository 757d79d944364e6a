/**
 * The page every screen is drawn in (public/index.html): its character set,
 * and its description for search results and link previews.
 */
import { expect, test } from './fixtures';

test('the page declares UTF-8 in its first bytes and describes the portal in Japanese', async ({ page, request }) => {
  const response = await request.get('/');
  // HTML: the declaration must sit within the first 1024 bytes.
  const start = (await response.body()).subarray(0, 1024).toString('latin1');
  expect(start).toMatch(/<head>\s*<meta charset="utf-8">/);

  await page.goto('/');
  const description = page.locator('head meta[name="description"]');
  await expect(description).toHaveCount(1);
  await expect(description).toHaveAttribute('content', /^(?=.*フレッツナンバー)(?=.*回線情報通知).{30,160}$/);
});
