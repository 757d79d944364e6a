/**
 * The servers the suite starts (playwright.config.ts, through serve.sh):
 * the main one; one whose sessions end after 20 s idle, for the
 * session-timeout warning (SPEC §4 Sessions); and two that the login and
 * flow A journeys run against again (SPEC §3: the portal works the same
 * over HTTPS and over plain HTTP on any host name), each with its own
 * database: one reached as `http://kaisen.test` (not a secure context),
 * one serving HTTPS itself, which Chromium speaks HTTP/2 to. The main
 * one and the one on PostgreSQL also serve the operator console (SPEC §5),
 * each on a port of its own.
 */

/** The main server's port. */
export const mainPort = Number(process.env.KAISEN_E2E_PORT ?? 3917);

/** The short-idle server's port. */
export const idlePort = Number(process.env.KAISEN_E2E_IDLE_PORT ?? 3918);

/** The port of the server reached by the host name {@link stagingHost}. */
export const stagingPort = Number(process.env.KAISEN_E2E_STAGING_PORT ?? 3920);

/** A host name that is not localhost, mapped to 127.0.0.1 by Chromium's
 * `--host-resolver-rules` (no /etc/hosts entry needed). */
export const stagingHost = 'kaisen.test';

/** The port of the server with its own TLS listener (a self-signed
 * certificate made by serve.sh). */
export const tlsPort = Number(process.env.KAISEN_E2E_TLS_PORT ?? 3921);

/** The port of the server whose database is on PostgreSQL. */
export const postgresPort = Number(process.env.KAISEN_E2E_POSTGRES_PORT ?? 3922);

/** The port of the main server's operator console (serve.sh's
 * KAISEN_E2E_OPERATOR_PORT, `serve --operator-addr`). */
export const mainConsolePort = Number(process.env.KAISEN_E2E_OPERATOR_PORT ?? 3937);

/** The port of the PostgreSQL server's operator console. */
export const postgresConsolePort = Number(process.env.KAISEN_E2E_POSTGRES_OPERATOR_PORT ?? 3942);

/** The short-idle server's idle limit, in seconds. */
export const idleLimitSecs = 20;

/** The operator's contact details the main server is given (`--contact`,
 * one line each), shown on the receipt. */
export const contact = ['【E2E】回線情報通知 試験受付窓口', '電話：0120-000-999（平日 9:00～17:00）'];
