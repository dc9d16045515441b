import { randomBytes } from 'node:crypto';
import type { CaptchaVerdict } from './switches.js';

/**
 * The fake reCAPTCHA's tokens: minted on request, single-use, expiring on the site clock, and judged by
 * the verdict switch. A missing, unknown, spent or expired token is flagged like a failing verdict.
 */

/** A captcha verdict on one token. */
export type CaptchaCheck = 'pass' | 'fail';

/** How long a minted token stays valid, ms (reCAPTCHA tokens expire after two minutes). */
export const TOKEN_TTL_MS = 120_000;

/** The token store of one site. */
export interface CaptchaTokens {
  /** Mints a token for `siteKey`, valid for {@link TOKEN_TTL_MS} from now on the site clock. */
  mint(siteKey: string): string;
  /** Checks (and spends) a token under the verdict switch; unknown, reused and expired tokens fail. */
  check(token: unknown): CaptchaCheck;
  /** Forgets every token and the check count. */
  reset(): void;
}

/**
 * Creates an empty token store. `siteNowMs` is the site clock (epoch ms); `verdict` reads the current
 * `captchaVerdict` switch at every check.
 */
export function createCaptchaTokens(siteNowMs: () => number, verdict: () => CaptchaVerdict): CaptchaTokens {
  let tokens = new Map<string, { mintedAtMs: number; spent: boolean }>();
  // Every check since reset counts toward `failAfter`, good tokens or not.
  let checks = 0;

  return {
    mint(siteKey) {
      const token = `${siteKey.slice(0, 8)}.${randomBytes(24).toString('base64url')}`;
      tokens.set(token, { mintedAtMs: siteNowMs(), spent: false });
      return token;
    },
    check(token) {
      checks += 1;
      const entry = typeof token === 'string' ? tokens.get(token) : undefined;
      if (!entry || entry.spent || siteNowMs() - entry.mintedAtMs > TOKEN_TTL_MS) return 'fail';
      entry.spent = true;
      const v = verdict();
      if (v.kind === 'fail') return 'fail';
      if (v.kind === 'failAfter' && checks > v.passes) return 'fail';
      return 'pass';
    },
    reset() {
      tokens = new Map();
      checks = 0;
    },
  };
}
