/**
 * The code points that person names and e-mail addresses may not contain (README "Names and e-mail
 * addresses"), and how an error names them. Everything else is legitimate text: letters of any script,
 * combining marks, digits, emoji with their ZWJ (U+200D) sequences and variation selectors, punctuation,
 * symbols, spaces, and markup-looking text, which is stored as typed and escaped wherever it is shown.
 *
 * Forbidden, because they are never part of a name a person types and they change how OTHER text displays
 * (a terminal, a log line, a list of bookings) or make the value ill-formed:
 * - `control`: Unicode general category Cc: C0 (U+0000–U+001F, TAB, CR, LF, BEL, ESC included), DEL (U+007F),
 *   C1 (U+0080–U+009F).
 * - `bidi`: the bidirectional controls of UAX #9: U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069
 *   ("Trojan Source", CVE-2021-42574). ZWJ/ZWNJ (U+200D/U+200C) are NOT bidi controls and stay allowed.
 * - `separator`: U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR (line breaks by another name).
 * - `lone-surrogate`: a UTF-16 surrogate not part of a pair (not Unicode text; Postgres cannot store it).
 * - `noncharacter`: U+FDD0–U+FDEF and the last two code points of every plane (U+FFFE, U+FFFF, U+1FFFE, ...).
 *
 * Written by hand: neither zod nor the platform has this rule (`\p{Cc}` covers only the first class).
 */

/** Which class a forbidden code point belongs to; see the file comment. */
export type ForbiddenKind = 'control' | 'bidi' | 'separator' | 'lone-surrogate' | 'noncharacter';

/** The first forbidden code point of a text. */
export interface ForbiddenCodePoint {
  kind: ForbiddenKind;
  /** The code point (a lone surrogate is its one UTF-16 unit). */
  codePoint: number;
  /** 1-based position in the text, counted in code points (an emoji is one, as is each ZWJ). */
  position: number;
}

/** Short names of C0 controls and DEL (Unicode name aliases; TAB rather than HT, as people call it). */
const C0_NAMES = [
  'NUL', 'SOH', 'STX', 'ETX', 'EOT', 'ENQ', 'ACK', 'BEL', 'BS', 'TAB', 'LF', 'VT', 'FF', 'CR', 'SO', 'SI',
  'DLE', 'DC1', 'DC2', 'DC3', 'DC4', 'NAK', 'SYN', 'ETB', 'CAN', 'EM', 'SUB', 'ESC', 'FS', 'GS', 'RS', 'US',
];
/** Short names of C1 controls U+0080–U+009F (Unicode name aliases). */
const C1_NAMES = [
  'PAD', 'HOP', 'BPH', 'NBH', 'IND', 'NEL', 'SSA', 'ESA', 'HTS', 'HTJ', 'VTS', 'PLD', 'PLU', 'RI', 'SS2', 'SS3',
  'DCS', 'PU1', 'PU2', 'STS', 'CCH', 'MW', 'SPA', 'EPA', 'SOS', 'SGC', 'SCI', 'CSI', 'ST', 'OSC', 'PM', 'APC',
];
const BIDI_NAMES: ReadonlyMap<number, string> = new Map([
  [0x061c, 'ARABIC LETTER MARK'],
  [0x200e, 'LEFT-TO-RIGHT MARK'],
  [0x200f, 'RIGHT-TO-LEFT MARK'],
  [0x202a, 'LEFT-TO-RIGHT EMBEDDING'],
  [0x202b, 'RIGHT-TO-LEFT EMBEDDING'],
  [0x202c, 'POP DIRECTIONAL FORMATTING'],
  [0x202d, 'LEFT-TO-RIGHT OVERRIDE'],
  [0x202e, 'RIGHT-TO-LEFT OVERRIDE'],
  [0x2066, 'LEFT-TO-RIGHT ISOLATE'],
  [0x2067, 'RIGHT-TO-LEFT ISOLATE'],
  [0x2068, 'FIRST STRONG ISOLATE'],
  [0x2069, 'POP DIRECTIONAL ISOLATE'],
]);
const SEPARATOR_NAMES: ReadonlyMap<number, string> = new Map([
  [0x2028, 'LINE SEPARATOR'],
  [0x2029, 'PARAGRAPH SEPARATOR'],
]);

/** The class of code point `cp`, or `null` when it is allowed. */
export function forbiddenKindOf(cp: number): ForbiddenKind | null {
  if (cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f)) return 'control';
  if (BIDI_NAMES.has(cp)) return 'bidi';
  if (SEPARATOR_NAMES.has(cp)) return 'separator';
  if (cp >= 0xd800 && cp <= 0xdfff) return 'lone-surrogate';
  if ((cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe) return 'noncharacter';
  return null;
}

/** The first forbidden code point of `text`, or `null` when there is none. */
export function findForbiddenCodePoint(text: string): ForbiddenCodePoint | null {
  let position = 0;
  // for..of walks code points; a lone surrogate comes out as a one-unit string.
  for (const char of text) {
    position += 1;
    const codePoint = char.codePointAt(0)!;
    const kind = forbiddenKindOf(codePoint);
    if (kind !== null) return { kind, codePoint, position };
  }
  return null;
}

/** `U+001B`: the code point in the Unicode notation, at least four hex digits. */
export function codePointLabel(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** The code point's name for a message: `ESC`, `RIGHT-TO-LEFT OVERRIDE`, or `null` when it has none worth giving. */
function codePointName(cp: number): string | null {
  if (cp <= 0x1f) return C0_NAMES[cp] ?? null;
  if (cp === 0x7f) return 'DEL';
  if (cp >= 0x80 && cp <= 0x9f) return C1_NAMES[cp - 0x80] ?? null;
  return BIDI_NAMES.get(cp) ?? SEPARATOR_NAMES.get(cp) ?? null;
}

const KIND_TEXT: Record<ForbiddenKind, string> = {
  control: 'a control character',
  bidi: 'a bidirectional-control character',
  separator: 'a line or paragraph separator',
  'lone-surrogate': 'a lone surrogate',
  noncharacter: 'a noncharacter',
};

/**
 * The sentence fragment that names a forbidden code point, e.g.
 * `contains a control character U+001B (ESC) at position 4`.
 */
export function describeForbiddenCodePoint(found: ForbiddenCodePoint): string {
  const name = codePointName(found.codePoint);
  return `contains ${KIND_TEXT[found.kind]} ${codePointLabel(found.codePoint)}${name === null ? '' : ` (${name})`} at position ${found.position}`;
}

/**
 * What is not allowed, for the end of a message about `subject` (`names`, `e-mail addresses`), per class:
 * `names may not contain control or bidirectional-control characters`.
 */
export function forbiddenRule(subject: string, kind: ForbiddenKind): string {
  switch (kind) {
    case 'control':
    case 'bidi':
      return `${subject} may not contain control or bidirectional-control characters`;
    case 'separator':
      return `${subject} may not contain line or paragraph separators`;
    case 'lone-surrogate':
      return `${subject} must be well-formed Unicode text (a surrogate must be half of a pair)`;
    case 'noncharacter':
      return `${subject} may not contain Unicode noncharacters`;
  }
}

/**
 * `text` with every control, bidi-control, separator and lone-surrogate code point written as a `\uXXXX`
 * escape, so quoting a bad value in an error cannot reorder or break the line it is shown on.
 */
export function escapeForbidden(text: string): string {
  let out = '';
  for (const char of text) {
    const cp = char.codePointAt(0)!;
    const kind = forbiddenKindOf(cp);
    out += kind === null || kind === 'noncharacter' ? char : `\\u${cp.toString(16).padStart(4, '0')}`;
  }
  return out;
}
