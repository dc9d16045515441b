import { ACUITY_CLIENT_INPUTS, type AcuityPageSnapshot } from './acuity-page.js';

/**
 * Reads an Acuity page from its raw HTML (pure: no I/O, no clock), for the request flow that never renders
 * at the fire instant. It classifies with the same markers, in the same order, as the in-page reader of
 * `acuity-page.ts` (so both flows agree on what a page says), and extracts the booking form the way a
 * browser would submit it: every named control of `form#booking-form` with its value, the hidden
 * `form_token` included.
 *
 * A tiny tag scanner, not a full HTML parser: quoted, single-quoted and bare attribute values in any order,
 * comments and scripts skipped, the common entities decoded. Enough for server-rendered forms; a page whose
 * form is built by script shows `unknown` (use the rendered flow for such a site).
 */

/** The booking form as it would be posted. */
export interface AcuityForm {
  /** Absolute URL the form posts to (its `action`, resolved against the page URL). */
  actionUrl: string;
  /** Named controls in document order with their current values (`client.*` included, empty or prefilled). */
  fields: [name: string, value: string][];
}

/** {@link AcuityPageSnapshot} plus the form, when the page shows a usable one (`state` `form`/`field_errors`). */
export interface AcuityHtmlPage extends AcuityPageSnapshot {
  form: AcuityForm | null;
}

interface Tag {
  name: string;
  attrs: Map<string, string>;
  /** Offsets of the tag in the scanned text: start of `<`, and just after `>`. */
  start: number;
  end: number;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

/** Decodes named (the common ones) and numeric character references. */
export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref[0] === '#') {
      const code = ref[1] === 'x' || ref[1] === 'X' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      return Number.isFinite(code) && code >= 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[ref.toLowerCase()] ?? whole;
  });
}

const TAG_RE = /<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s=/>]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'=<>`]+))?)*)\s*\/?>/g;
const ATTR_RE = /([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;

function scanTags(html: string): Tag[] {
  const tags: Tag[] = [];
  for (const m of html.matchAll(TAG_RE)) {
    const attrs = new Map<string, string>();
    for (const a of (m[2] ?? '').matchAll(ATTR_RE)) {
      const name = (a[1] ?? '').toLowerCase();
      if (!attrs.has(name)) attrs.set(name, decodeEntities(a[2] ?? a[3] ?? a[4] ?? ''));
    }
    tags.push({ name: (m[1] ?? '').toLowerCase(), attrs, start: m.index, end: m.index + m[0].length });
  }
  return tags;
}

const hasClass = (tag: Tag, cls: string): boolean => (tag.attrs.get('class') ?? '').split(/\s+/).includes(cls);

/** Text content of `tag` (up to its closing tag; nested markup stripped), trimmed. */
function textOf(html: string, tag: Tag): string {
  const close = html.indexOf(`</${tag.name}`, tag.end);
  const inner = html.slice(tag.end, close === -1 ? undefined : close);
  return decodeEntities(inner.replace(/<[^>]*>/g, '')).replace(/\s+/g, ' ').trim();
}

/** Controls a browser would submit with a click on the confirm button (`button.btn-confirm` included if named). */
function formFields(formTags: Tag[]): [string, string][] {
  const fields: [string, string][] = [];
  for (const tag of formTags) {
    const name = tag.attrs.get('name');
    if (!name || tag.attrs.has('disabled')) continue;
    const type = (tag.attrs.get('type') ?? '').toLowerCase();
    if (tag.name === 'input') {
      if (['submit', 'button', 'image', 'reset', 'file'].includes(type)) continue;
      if ((type === 'checkbox' || type === 'radio') && !tag.attrs.has('checked')) continue;
      fields.push([name, tag.attrs.get('value') ?? (type === 'checkbox' || type === 'radio' ? 'on' : '')]);
    } else if (tag.name === 'button' && hasClass(tag, 'btn-confirm') && (type === '' || type === 'submit')) {
      fields.push([name, tag.attrs.get('value') ?? '']);
    }
  }
  return fields;
}

/**
 * Classifies `html` (the body of `pageUrl`) like the in-page reader and extracts the booking form.
 * Never throws; a page with none of the known markers is `unknown`.
 */
export function parseAcuityHtml(html: string, pageUrl: string): AcuityHtmlPage {
  const clean = html.replace(/<!--[\s\S]*?-->/g, '').replace(/<(script|style|template)\b[\s\S]*?<\/\1\s*>/gi, '');
  const tags = scanTags(clean);
  const titleTag = tags.find((t) => t.name === 'title');
  const base: AcuityHtmlPage = { state: 'unknown', confirmationCode: null, clientName: null, fieldErrors: [], missing: [], title: titleTag ? textOf(clean, titleTag) : '', form: null };
  const first = (cls: string): Tag | undefined => tags.find((t) => hasClass(t, cls));
  const text = (cls: string): string | null => {
    const tag = first(cls);
    return tag ? textOf(clean, tag) || null : null;
  };
  if (first('blocked')) return { ...base, state: 'blocked' };
  const code = text('confirmation-code');
  if (code) return { ...base, state: 'booked', confirmationCode: code, clientName: text('client-name') };
  if (first('slot-unavailable')) return { ...base, state: 'slot_taken' };
  if (first('not-open-yet')) return { ...base, state: 'not_open_yet' };
  if (first('form-expired')) return { ...base, state: 'bad_token' };
  const formIndex = tags.findIndex((t) => t.name === 'form' && t.attrs.get('id') === 'booking-form');
  const formTag = tags[formIndex];
  if (!formTag) return base;
  const closeAt = clean.indexOf('</form', formTag.end);
  const formTags = tags.slice(formIndex + 1).filter((t) => closeAt === -1 || t.start < closeAt);
  const names = new Set(formTags.map((t) => t.attrs.get('name')));
  const missing: string[] = ACUITY_CLIENT_INPUTS.filter((name) => !names.has(name));
  if (!formTags.some((t) => t.name === 'button' && hasClass(t, 'btn-confirm'))) missing.push('button.btn-confirm');
  if (missing.length > 0) return { ...base, missing };
  const method = (formTag.attrs.get('method') ?? 'get').toLowerCase();
  if (method !== 'post') return { ...base, missing: [`form method="post" (found "${method}")`] };
  let actionUrl: string;
  try {
    actionUrl = new URL(formTag.attrs.get('action') || pageUrl, pageUrl).href;
  } catch {
    return { ...base, missing: [`a valid form action (found "${formTag.attrs.get('action') ?? ''}")`] };
  }
  const fieldErrors = tags.filter((t) => hasClass(t, 'field-error')).map((t) => textOf(clean, t));
  return { ...base, state: fieldErrors.length > 0 ? 'field_errors' : 'form', fieldErrors, form: { actionUrl, fields: formFields(formTags) } };
}

/**
 * The urlencoded body of `form` with the `client.*` inputs set to `client`'s values (every other control as
 * the page had it, the `form_token` included), as a browser would encode it.
 */
export function encodeAcuityForm(form: AcuityForm, client: Readonly<Record<(typeof ACUITY_CLIENT_INPUTS)[number], string>>): string {
  const body = new URLSearchParams();
  for (const [name, value] of form.fields) body.append(name, Object.hasOwn(client, name) ? client[name as keyof typeof client] : value);
  return body.toString();
}
