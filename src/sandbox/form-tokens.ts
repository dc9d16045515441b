import { randomBytes } from 'node:crypto';

/**
 * The booking form's hidden `form_token`: bound to one court-slot, single-use, valid for
 * {@link FORM_TOKEN_TTL_MS} on the site's clock (like a real site's CSRF/session token).
 */

/** Form tokens live this long on the site's clock (ms). */
const FORM_TOKEN_TTL_MS = 30 * 60_000;

/** Why a form token was refused, or `ok`. */
export type TokenCheck = 'ok' | 'unknown' | 'expired' | 'used' | 'mismatch';

/** Issues and checks form tokens. */
export interface FormTokens {
  /** A new token for the court-slot `key`. */
  issue(key: string): string;
  /** Checks `token` against `key` and uses it up when it is good. */
  take(token: string | undefined, key: string): TokenCheck;
  clear(): void;
}

/** Creates an empty token store reading the site's clock from `siteNow` (epoch ms). */
export function createFormTokens(siteNow: () => number): FormTokens {
  const tokens = new Map<string, { key: string; issuedAtMs: number; used: boolean }>();
  return {
    issue(key) {
      const nowMs = siteNow();
      for (const [token, entry] of tokens) if (nowMs - entry.issuedAtMs > FORM_TOKEN_TTL_MS) tokens.delete(token);
      const token = randomBytes(18).toString('base64url');
      tokens.set(token, { key, issuedAtMs: nowMs, used: false });
      return token;
    },
    take(token, key) {
      const entry = token === undefined ? undefined : tokens.get(token);
      if (!entry) return 'unknown';
      if (entry.key !== key) return 'mismatch';
      if (entry.used) return 'used';
      if (siteNow() - entry.issuedAtMs > FORM_TOKEN_TTL_MS) return 'expired';
      entry.used = true;
      return 'ok';
    },
    clear: () => tokens.clear(),
  };
}
