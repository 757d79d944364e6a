import { defineConfig } from '@playwright/test';
import type { ServerOptions } from './tests/fixtures';
import {
  contact,
  idleLimitSecs,
  idlePort,
  mainConsolePort,
  mainPort as port,
  postgresConsolePort,
  postgresPort,
  stagingHost,
  stagingPort,
  tlsPort,
} from './tests/servers';

/** Debian's Chromium (never `npx playwright install`), with `extra` flags. */
function chromium(...extra: string[]) {
  return {
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extra,
    ],
  };
}

/** A server started by serve.sh, answering on `url`, with `env` (and the
 * operator's contact details, which `serve` needs; no operator console
 * unless `env` asks for one). */
function server(url: string, env: Record<string, string>) {
  return {
    command: './serve.sh',
    url,
    env: { RUST_LOG: 'warn', KAISEN_CONTACT: contact.join('\n'), KAISEN_E2E_OPERATOR_PORT: '', ...env },
    ignoreHTTPSErrors: url.startsWith('https:'),
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: 'ignore' as const,
    stderr: 'pipe' as const,
  };
}

/** What the staging-host and TLS projects run again: the login journeys
 * (and `/` with a live session) and flow A. */
const elsewhere = /\/(logout|flow-a)\.spec\.ts$/;

export default defineConfig<ServerOptions>({
  testDir: './tests',
  outputDir: './test-results',
  fullyParallel: true,
  workers: 2,
  retries: 0,
  reporter: 'list',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  forbidOnly: !!process.env.CI,
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    locale: 'ja-JP',
    timezoneId: 'Asia/Tokyo',
    trace: 'retain-on-failure',
    browserName: 'chromium',
    launchOptions: chromium(),
  },
  projects: [
    { name: 'chromium', testIgnore: /\/tls\.spec\.ts$/ },
    {
      // Plain HTTP on a host name that is not localhost: not a secure
      // context, so no `crypto.randomUUID` and the like (SPEC §3).
      name: stagingHost,
      testMatch: elsewhere,
      use: {
        baseURL: `http://${stagingHost}:${stagingPort}`,
        launchOptions: chromium(`--host-resolver-rules=MAP ${stagingHost} 127.0.0.1`),
        dataDir: '.data-staging',
      },
    },
    {
      // The same portal on PostgreSQL (SPEC §9): the journeys through both
      // flows, a reload mid-flow, the printed receipt and the operator
      // console's journey.
      name: 'postgres',
      testMatch: /\/(flow-a|flow-b|reload|print|console)\.spec\.ts$/,
      use: {
        baseURL: `http://127.0.0.1:${postgresPort}`,
        dataDir: '.data-postgres',
        consoleURL: `http://127.0.0.1:${postgresConsolePort}`,
      },
    },
    {
      // The server's own TLS listener: Chromium speaks HTTP/2 to it, whose
      // requests carry no Host header (tls.spec.ts checks the protocol).
      name: 'tls',
      testMatch: [elsewhere, /\/tls\.spec\.ts$/],
      use: {
        baseURL: `https://127.0.0.1:${tlsPort}`,
        ignoreHTTPSErrors: true,
        launchOptions: chromium('--ignore-certificate-errors'),
        dataDir: '.data-tls',
      },
    },
  ],
  webServer: [
    // With the operator console (console.spec.ts).
    server(`http://127.0.0.1:${port}/`, {
      KAISEN_E2E_PORT: String(port),
      KAISEN_E2E_OPERATOR_PORT: String(mainConsolePort),
    }),
    // Sessions end after 20 s idle: session-timeout.spec.ts.
    server(`http://127.0.0.1:${idlePort}/`, {
      KAISEN_E2E_PORT: String(idlePort),
      KAISEN_E2E_DATA: '.data-idle',
      KAISEN_IDLE_TIMEOUT: `${idleLimitSecs}s`,
    }),
    server(`http://127.0.0.1:${stagingPort}/`, { KAISEN_E2E_PORT: String(stagingPort), KAISEN_E2E_DATA: '.data-staging' }),
    server(`http://127.0.0.1:${postgresPort}/`, {
      KAISEN_E2E_PORT: String(postgresPort),
      KAISEN_E2E_DATA: '.data-postgres',
      KAISEN_E2E_ENGINE: 'postgres',
      KAISEN_E2E_OPERATOR_PORT: String(postgresConsolePort),
    }),
    server(`https://127.0.0.1:${tlsPort}/`, {
      KAISEN_E2E_PORT: String(tlsPort),
      KAISEN_E2E_DATA: '.data-tls',
      KAISEN_E2E_TLS: '1',
    }),
  ],
});
