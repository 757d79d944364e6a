/**
 * The README's screenshots: S0, S2 and the receipt (S7), on a desktop
 * (1280 px, the whole page) and a phone (390 × 844, what the phone shows
 * first). Every run takes them into test-results/readme/; with
 * KAISEN_README_SCREENSHOTS=1 they also replace docs/screenshots/*.png:
 *
 *     KAISEN_README_SCREENSHOTS=1 npx playwright test readme-screenshots
 *
 * (only on demand: the receipt's ID and times differ on every run).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page, TestInfo } from '@playwright/test';
import { expect, test } from './fixtures';
import { applyFlowA, expectScreen, heading, line, loginAs, openDetail, provider, providerRow } from './helpers';

const docs = path.join(__dirname, '..', '..', 'docs', 'screenshots');
const update = process.env.KAISEN_README_SCREENSHOTS === '1';

/** The two sizes: a desktop's width, and a common phone's screen. */
const sizes = {
  desktop: { width: 1280, height: 900, fullPage: true },
  phone: { width: 390, height: 844, fullPage: false },
} as const;

/** Screenshots the screen as it is at both sizes, as `${name}-${size}.png`. */
async function shoot(page: Page, name: string, testInfo: TestInfo): Promise<void> {
  // No hover or focus ring from the steps that led here.
  await page.mouse.move(0, 0);
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  for (const [size, { width, height, fullPage }] of Object.entries(sizes)) {
    await page.setViewportSize({ width, height });
    await page.evaluate(() => window.scrollTo(0, 0));
    const file = `${name}-${size}.png`;
    const shot = testInfo.outputPath('readme', file);
    await page.screenshot({ path: shot, fullPage });
    if (update) {
      fs.mkdirSync(docs, { recursive: true });
      fs.copyFileSync(shot, path.join(docs, file));
    }
  }
  await page.setViewportSize(sizes.desktop);
}

test('the README screenshots: login, S2 and the receipt, on a desktop and a phone', async ({ page }, testInfo) => {
  await page.goto('/');
  await expectScreen(page, heading.login);
  await shoot(page, 'login', testInfo);

  await loginAs(page, line(29));
  await openDetail(page);
  await expect(providerRow(page, provider('P0003'))).toBeVisible();
  await shoot(page, 'detail', testInfo);

  await applyFlowA(page, [provider('P0001'), provider('P0002')]);
  await shoot(page, 'receipt', testInfo);
});
