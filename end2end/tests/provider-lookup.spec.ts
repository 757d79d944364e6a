/**
 * A real provider lookup (SPEC §8), nothing mocked: P0001, registered for
 * the provider API in fixtures/lines.json, signs a client assertion with
 * its test-only key (fixtures/provider-p0001-es256.pem) using `jose`, gets
 * an access token and looks up an address inside line 45's IPv6 prefix.
 * Line 45 is set to 「通知する」 for P0001 by the fixture, so the answer
 * carries its customer ID; the subscriber then sees that disclosure on S2
 * (「最終通知日時」) and S9 (通知履歴). An address outside every prefix gets
 * exactly `{"notify":false}`. (P0001’s `webhook_url`, port 3930, has no
 * listener: no spec checks events.)
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { APIRequestContext } from '@playwright/test';
import { SignJWT, importPKCS8 } from 'jose';
import data from '../fixtures/lines.json';
import { expect, test } from './fixtures';
import {
  cellOf,
  dataRows,
  expectLoaded,
  expectScreen,
  heading,
  jst,
  line,
  loginAs,
  openDetail,
  provider,
  providerRow,
} from './helpers';

const me = line(45);
const lookedUpBy = provider('P0001');

/** P0001's registration (client ID, key ID) and line 45's prefix, from the fixture file. */
const api = data.providers.find((p) => p.code === lookedUpBy.code)?.api;
const prefix = data.prefixes.find((p) => p.customer_id === me.customerId)?.prefix;

/** P0001's private key, without the file's explanatory text (RFC 7468 §5.2). */
function privateKeyPem(): string {
  const file = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'provider-p0001-es256.pem'), 'utf8');
  const pem = file.match(/-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/)?.[0];
  if (!pem) throw new Error('fixtures/provider-p0001-es256.pem holds no private key');
  return pem;
}

/**
 * `POST /provider/v1/token` as P0001 (RFC 7523 `private_key_jwt`): an ES256
 * assertion for the server's token endpoint URL (serve.sh gives no
 * `--public-url`, so it is `http://<--addr>`, the suite's base URL), two
 * minutes long, with a fresh `jti`. Answers the access token.
 */
async function accessToken(request: APIRequestContext, baseURL: string): Promise<string> {
  if (!api) throw new Error(`the fixture file registers no API for ${lookedUpBy.code}`);
  const [jwk] = api.jwks.keys;
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: jwk.kid, typ: 'JWT' })
    .setIssuer(api.client_id)
    .setSubject(api.client_id)
    .setAudience(`${baseURL}/provider/v1/token`)
    .setIssuedAt()
    .setExpirationTime('2m')
    .setJti(randomUUID())
    .sign(await importPKCS8(privateKeyPem(), 'ES256'));
  const response = await request.post('/provider/v1/token', {
    form: {
      grant_type: 'client_credentials',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    },
  });
  expect(response.status(), await response.text()).toBe(200);
  const token = await response.json();
  expect(token).toEqual({ access_token: expect.any(String), token_type: 'Bearer', expires_in: 300 });
  return token.access_token;
}

/** `POST /provider/v1/line-info/retrieve` for `address`, with `token`. */
async function lookUp(request: APIRequestContext, token: string, address: string) {
  const response = await request.post('/provider/v1/line-info/retrieve', {
    headers: { authorization: `Bearer ${token}` },
    data: { ipv6_address: address },
  });
  expect(response.status(), await response.text()).toBe(200);
  return response;
}

test('a lookup of an address outside every prefix answers exactly {"notify":false}', async ({ request, baseURL }) => {
  const token = await accessToken(request, baseURL!);
  const answer = await lookUp(request, token, '2001:db8:ffff:ff00::1');
  expect(await answer.text()).toBe('{"notify":false}');
});

test('a provider’s lookup inside the line’s prefix gets its customer ID, shown on S2 and S9', async ({
  page,
  request,
  baseURL,
}) => {
  expect(prefix, `a prefix of ${me.customerId} in the fixture file`).toBe('2001:db8:e2e:4500::/56');
  const token = await accessToken(request, baseURL!);
  const before = Math.floor(Date.now() / 1000);
  const answer = await (await lookUp(request, token, '2001:db8:e2e:4500::1')).json();
  const after = Math.floor(Date.now() / 1000);
  expect(answer).toEqual({ notify: true, customer_id: me.customerId, disclosure_id: expect.any(String) });
  expect(answer.disclosure_id).not.toBe('');
  // The server's clock is this machine's: the answer's time is one of these.
  const answered = Array.from({ length: after - before + 1 }, (_, i) => jst(before + i));

  await loginAs(page, me);
  await openDetail(page);
  await expect(providerRow(page, lookedUpBy)).toBeVisible();
  const lastDisclosed = await cellOf(page, lookedUpBy, '最終通知日時');
  await expect(lastDisclosed).toHaveText(/^\d{4}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2}$/);
  const shown = (await lastDisclosed.innerText()).trim();
  expect(answered).toContain(shown);
  // The providers that looked nothing up never received it.
  for (const other of [provider('P0002'), provider('P0003')]) {
    await expect(await cellOf(page, other, '最終通知日時')).toHaveText('なし');
  }

  await page.getByRole('button', { name: '通知履歴', exact: true }).click();
  await expectScreen(page, heading.disclosures);
  await expectLoaded(page);
  await expect(page.getByRole('table', { name: 'お客さまIDを通知した記録' })).toBeVisible();
  await expect(page.getByText('件数: 1件', { exact: true })).toBeVisible();
  await expect(dataRows(page)).toHaveCount(1);
  await expect(dataRows(page).first().getByRole('cell')).toHaveText([
    shown,
    lookedUpBy.serviceName,
    lookedUpBy.name,
    prefix!,
    '接続時の照会',
  ]);
});
