/**
 * Every width (SPEC §6): from a 320 px phone to a desktop, no screen in any
 * state scrolls sideways, every target stays at least 24×24 px, and axe
 * finds nothing in the phone layout either (tables become cards there).
 * Full-page screenshots of every screen at 320, 768 and 1280 px are kept in
 * test-results/screenshots/ to be looked at.
 */
import type { Page, TestInfo } from '@playwright/test';
import { expect, failedFetch, test } from './fixtures';
import { axeViolations } from './a11y';
import { checkWidths, tourLines, walkFlowA, walkFlowB, walkLogin, widths, type Visit } from './screens';

// Each walk visits many states, at three widths each.
test.describe.configure({ timeout: 120_000 });

function check(page: Page, testInfo: TestInfo): Visit {
  return async (state) => {
    await checkWidths(page, state, testInfo);
    await page.setViewportSize({ width: widths[0], height: 900 });
    expect.soft(await axeViolations(page), `axe violations on ${state} at ${widths[0]} px`).toEqual([]);
  };
}

test('S0 (fresh, with errors) and the 404 page fit every width', async ({ page, browserErrors }, testInfo) => {
  browserErrors.allow(failedFetch(401));
  await walkLogin(page, tourLines.widths.withProviders, check(page, testInfo));
});

test('S1, S2 (rows, error, pending), S4–S7 of flow A, S8 and S0 after logout fit every width', async ({ page }, testInfo) => {
  await walkFlowA(page, tourLines.widths.withProviders, check(page, testInfo));
});

test('empty S2, S9 and S8, S3 (page 1, error, page 2) and flow B fit every width', async ({ page }, testInfo) => {
  await walkFlowB(page, tourLines.widths.empty, check(page, testInfo));
});
