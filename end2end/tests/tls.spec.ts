/**
 * The server's own TLS listener (`--tls-cert`, `--tls-key`), run by the
 * `tls` project only: Chromium speaks HTTP/2 to it, whose requests carry
 * `:authority` instead of a Host header, and a login (a state-changing
 * request, so checked for its origin) still goes through.
 */
import { expect, test } from './fixtures';
import { line, loginAs } from './helpers';

/** The protocol the page's document (`part` null), or its last resource
 * whose address contains `part`, was fetched with (`h2` for HTTP/2). */
function protocolOf(part: string | null): string {
  const entries = part
    ? performance.getEntriesByType('resource').filter((e) => e.name.includes(part))
    : performance.getEntriesByType('navigation');
  return (entries.at(-1) as PerformanceResourceTiming | undefined)?.nextHopProtocol ?? 'none';
}

test('over HTTPS the browser speaks HTTP/2 to the portal, and logging in works', async ({ page }) => {
  await loginAs(page, line(39));

  expect(await page.evaluate(protocolOf, null)).toBe('h2');
  expect(await page.evaluate(protocolOf, '/api/session')).toBe('h2');
  const cookies = await page.context().cookies();
  expect(cookies.map((c) => [c.name, c.secure])).toEqual([['__Host-kaisen_session', true]]);
});
