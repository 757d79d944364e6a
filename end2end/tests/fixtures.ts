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
import { mainConsolePort } from './servers';

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

/** The options a project of playwright.config.ts sets for its server. */
export interface ServerOptions {
  /** The folder of the project's server (serve.sh's KAISEN_E2E_DATA),
   * relative to end2end/: where its completion mails are. */
  dataDir: string;
  /** The origin of the project's operator console (serve.sh's
   * KAISEN_E2E_OPERATOR_PORT), for console.spec.ts. */
  consoleURL: string;
}

/** Whether the browser takes `url` for a secure context's origin: HTTPS,
 * or plain HTTP on the loopback. */
function isTrustworthy(url: URL): boolean {
  return url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}

export const test = base.extend<{ browserErrors: BrowserErrors }, ServerOptions>({
  dataDir: ['.data', { scope: 'worker', option: true }],
  consoleURL: [`http://127.0.0.1:${mainConsolePort}`, { scope: 'worker', option: true }],
  browserErrors: [
    async ({ context, baseURL }, use) => {
      const errors = new BrowserErrors();
      if (baseURL && !isTrustworthy(new URL(baseURL))) {
        // The server sends Cross-Origin-Opener-Policy and (at logout)
        // Clear-Site-Data however it is reached (a proxy in front may end
        // TLS); over plain HTTP on a host name other than localhost,
        // Chromium says it ignores them.
        errors.allow(/^console\.error: The Cross-Origin-Opener-Policy header has been ignored\b/);
        errors.allow(/^console\.error: Clear-Site-Data header on '[^']*': Not supported for insecure origins\.$/);
      }
      errors.watch(context);
      await use(errors);
      expect(errors.unexpected(), 'errors in the browser').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
