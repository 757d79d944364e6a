/**
 * WCAG 2.2 AA (SPEC §6): on every screen in every state (screens.ts walks
 * them; the timeout dialog is checked in session-timeout.spec.ts) axe finds
 * no violation, and every target is at least 24×24 CSS px.
 */
import type { Page } from '@playwright/test';
import { expect, failedFetch, test } from './fixtures';
import { axeViolations, smallTargets } from './a11y';
import { tourLines, walkFlowA, walkFlowB, walkLogin, type Visit } from './screens';

// Each walk visits many states, with axe at each.
test.describe.configure({ timeout: 120_000 });

/** Checks each state; reports every state's findings at once. */
function check(page: Page): Visit {
  return async (state) => {
    expect.soft(await axeViolations(page), `axe violations on ${state}`).toEqual([]);
    expect.soft(await smallTargets(page), `targets under 24×24 px on ${state}`).toEqual([]);
  };
}

test('S0 (fresh, with errors) and the 404 page have no axe violation and no small target', async ({ page, browserErrors }) => {
  // The wrong key is answered 401.
  browserErrors.allow(failedFetch(401));
  await walkLogin(page, tourLines.accessibility.withProviders, check(page));
});

test('S1, S2 (rows, error, pending), S4–S7 of flow A, S8 and S0 after logout have no axe violation and no small target', async ({ page }) => {
  await walkFlowA(page, tourLines.accessibility.withProviders, check(page));
});

test('empty S2, S9 and S8, S3 (page 1, error, page 2) and flow B have no axe violation and no small target', async ({ page }) => {
  await walkFlowB(page, tourLines.accessibility.empty, check(page));
});
