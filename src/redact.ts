/**
 * Scrubbing secrets out of text that leaves the process (log lines, error messages, `--json` summaries).
 *
 * Two rules, both applied by {@link scrubSecrets}:
 * - the password of any `scheme://user:password@host` URL becomes `***` (a Postgres URL in a pg or URL-parser
 *   error, a `DATABASE_URL` echoed by a library), whatever its origin, and so does a `password=` or
 *   `sslpassword=` query parameter (pg's connection strings, like libpq's, take the password there too);
 * - every known secret value (resolved from the config's `fromEnv` / `fromFile` references, `DATABASE_URL`;
 *   `secretValuesOf(config)`) becomes `[redacted]`, also in its JSON-escaped and URL-encoded forms.
 *
 * pino's `redact` removes values by key path only; a password inside a message or an error's text needs this.
 */

/** `scheme://user:` then the password up to the `@` of the authority. */
const URL_PASSWORD_RE = /([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@"'<>]*:)([^\s/?#@"'<>]+)@/gi;

/** A `password` or `sslpassword` query parameter of a URL (`?password=...`, `&sslpassword=...`), up to the next `&`. */
const QUERY_PASSWORD_RE = /([?&](?:ssl)?password=)([^&\s#"'<>]+)/gi;

/** The query parameters {@link redactUrl} hides. */
const PASSWORD_PARAMS = ['password', 'sslpassword'];

/** The censor that replaces a known secret value. */
export const SECRET_CENSOR = '[redacted]';

/** Shortest secret value scrubbed by value (shorter ones would blank out ordinary words). */
const MIN_SECRET_LENGTH = 4;

/** Every form a secret may take in text: as is, JSON-escaped, URL-encoded. */
function formsOf(secret: string): string[] {
  return [...new Set([secret, JSON.stringify(secret).slice(1, -1), encodeURIComponent(secret)])];
}

/**
 * `text` with URL passwords replaced by `***` and each of `secrets` (at least 4 characters) by `[redacted]`.
 * Longest secrets are replaced first, so a URL that contains a password secret is scrubbed whole.
 */
export function scrubSecrets(text: string, secrets: readonly string[] = []): string {
  return createSecretScrubber(secrets)(text);
}

/**
 * {@link scrubSecrets} for a fixed list of secrets, their forms computed once (the logger calls it on every
 * line).
 */
export function createSecretScrubber(secrets: readonly string[]): (text: string) => string {
  const forms = [...new Set(secrets.filter((s) => s.length >= MIN_SECRET_LENGTH).flatMap(formsOf))].sort((a, b) => b.length - a.length);
  return (text) => {
    let out = text;
    for (const form of forms) if (out.includes(form)) out = out.split(form).join(SECRET_CENSOR);
    return out.replace(URL_PASSWORD_RE, '$1***@').replace(QUERY_PASSWORD_RE, '$1***');
  };
}

/**
 * A connection URL fit for a log line or message: its password (in the authority, or a `password` /
 * `sslpassword` query parameter) replaced by `***`; unparseable ones withheld.
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const name of PASSWORD_PARAMS) if (parsed.searchParams.has(name)) parsed.searchParams.set(name, '***');
    return parsed.toString();
  } catch {
    return '[unparseable url]';
  }
}

/**
 * Hides e-mail addresses and phone numbers in free text (a reason may quote what a site or a validation
 * said): the status page and notifications show no contact details even when a stored message carries one. Any word
 * with an `@` counts as an address (an invalid one such as `ana@` or `ana@gmail` too).
 */
export function withoutContacts(text: string): string {
  return text.replace(/[^\s<>"'()]*@[^\s<>"'()]*/g, '[e-mail]').replace(/\+?\(?\d[\d\s().-]{6,}\d/g, (run) => (isPhoneLike(run) ? '[phone]' : run));
}

/** Nine digits or more, and not a date (`YYYY-MM-DD`) or a time (`HH:MM`) that merely runs into digits. */
function isPhoneLike(run: string): boolean {
  return (run.match(/\d/g) ?? []).length >= 9 && !/\d{4}-\d{2}-\d{2}/.test(run);
}
