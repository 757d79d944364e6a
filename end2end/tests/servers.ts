/**
 * The servers the suite starts (playwright.config.ts, through serve.sh):
 * the main one, and one whose sessions end after 20 s idle, for the
 * session-timeout warning (SPEC §4 Sessions).
 */

/** The main server's port. */
export const mainPort = Number(process.env.KAISEN_E2E_PORT ?? 3917);

/** The short-idle server's port. */
export const idlePort = Number(process.env.KAISEN_E2E_IDLE_PORT ?? 3918);

/** The short-idle server's idle limit, in seconds. */
export const idleLimitSecs = 20;

/** The operator's contact details the main server is given (`--contact`,
 * one line each), shown on the receipt. */
export const contact = ['【E2E】回線情報通知 試験受付窓口', '電話：0120-000-999（平日 9:00～17:00）'];
