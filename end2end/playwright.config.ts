import { defineConfig } from '@playwright/test';
import { contact, idleLimitSecs, idlePort, mainPort as port } from './tests/servers';

export default defineConfig({
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
    launchOptions: {
      // Debian's Chromium; never `npx playwright install`.
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
      ],
    },
  },
  webServer: [
    {
      command: './serve.sh',
      url: `http://127.0.0.1:${port}/`,
      env: { KAISEN_E2E_PORT: String(port), KAISEN_CONTACT: contact.join('\n'), RUST_LOG: 'warn' },
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
    {
      // Sessions end after 20 s idle: session-timeout.spec.ts.
      command: './serve.sh',
      url: `http://127.0.0.1:${idlePort}/`,
      env: {
        KAISEN_E2E_PORT: String(idlePort),
        KAISEN_E2E_DATA: '.data-idle',
        KAISEN_IDLE_TIMEOUT: `${idleLimitSecs}s`,
        KAISEN_CONTACT: contact.join('\n'),
        RUST_LOG: 'warn',
      },
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'ignore',
      stderr: 'pipe',
    },
  ],
});
