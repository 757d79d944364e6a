/**
 * The suite's `test`: Playwright's, extended so that any error in the
 * browser (an uncaught exception, a wasm panic, a `console.error`) fails the
 * test. A broken client bundle can therefore never pass.
 *
 * A test that provokes an error response on purpose (a wrong key, a page
 * opened after logout) says so with `browserErrors.allow(pattern)`: Chromium
 * logs every 4xx fetch as a console error.
 */
import { test as base, expect, type BrowserContext } from '@playwright/test';

/** Collects the errors of every page of the contexts it watches. */
export class BrowserErrors {
  private readonly seen: string[] = [];
  private readonly allowed: RegExp[] = [];

  /** Watches every page, present and future, of `context`. */
  watch(context: BrowserContext): void {
    context.on('weberror', (e) => {
      this.seen.push(`pageerror: ${e.error().message}`);
    });
    context.on('console', (message) => {
      if (message.type() === 'error') {
        this.seen.push(`console.error: ${message.text()}`);
      }
    });
  }

  /** Tolerates console errors matching `pattern` in this test. */
  allow(pattern: RegExp): void {
    this.allowed.push(pattern);
  }

  /** The errors not tolerated. */
  unexpected(): string[] {
    return this.seen.filter((e) => !this.allowed.some((p) => p.test(e)));
  }
}

/** A fetch answered with `status`, as Chromium logs it. */
export function failedFetch(status: number): RegExp {
  return new RegExp(`^console\\.error: Failed to load resource: the server responded with a status of ${status}\\b`);
}

export const test = base.extend<{ browserErrors: BrowserErrors }>({
  browserErrors: [
    async ({ context }, use) => {
      const errors = new BrowserErrors();
      errors.watch(context);
      await use(errors);
      expect(errors.unexpected(), 'errors in the browser').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
