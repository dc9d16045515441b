import { describe, expect, it } from 'vitest';
import {
  ContractError,
  buildImmediateRequest,
  buildRequestFromReservation,
  type BookingUserRowInput,
  type ImmediateRequestInput,
  type ReservationRowInput,
} from '../src/contracts/index.js';

/**
 * The names and e-mail policy (README "Names and e-mail addresses"; `personNameSchema`, `emailSchema`):
 * what is legitimate is kept exactly as typed (trimmed); what is rejected is named by field, code point
 * and position. Every expected message is written out.
 */

const VENUES = new Set(['riverside']);
const ROW: ReservationRowInput = { id: '42', venue: 'riverside', target_date: '2027-03-14', target_time: '07:00', courts: [1] };
const USER_ROW: BookingUserRowInput = { first_name: 'Ana', last_name: 'Lopez', email: 'ana@example.com', phone: '+502 5555 0101' };
const IMMEDIATE: ImmediateRequestInput = {
  user: { firstName: 'Ana', lastName: 'Lopez', email: 'ana@example.com', phone: '+502 5555 0101' },
  venue: 'riverside',
  targetDate: '2027-03-14',
  targetTime: '07:00',
  courts: [1],
};

const CONTROL_RULE = 'names may not contain control or bidirectional-control characters';

/** The message of the ContractError `fn` throws. */
function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ContractError);
    return (err as ContractError).message;
  }
  throw new Error('expected a ContractError');
}

const withFirstName = (firstName: string) => messageOf(() => buildRequestFromReservation(ROW, { ...USER_ROW, first_name: firstName }, VENUES));
const withEmail = (email: string) => messageOf(() => buildRequestFromReservation(ROW, { ...USER_ROW, email }, VENUES));

describe('names: rejected code points are named by field, code point and position', () => {
  it.each([
    ['BEL', 'Ana\u0007Maria', `booking_users.first_name: contains a control character U+0007 (BEL) at position 4; ${CONTROL_RULE}`],
    ['an ESC sequence', 'Ana\u001b[31mRed', `booking_users.first_name: contains a control character U+001B (ESC) at position 4; ${CONTROL_RULE}`],
    ['CR LF', 'Ana\r\nMaria', `booking_users.first_name: contains a control character U+000D (CR) at position 4; ${CONTROL_RULE}`],
    ['LF', 'Ana\nMaria', `booking_users.first_name: contains a control character U+000A (LF) at position 4; ${CONTROL_RULE}`],
    ['TAB', 'Ana\tMaria', `booking_users.first_name: contains a control character U+0009 (TAB) at position 4; ${CONTROL_RULE}`],
    ['NUL', 'Ana\u0000', `booking_users.first_name: contains a control character U+0000 (NUL) at position 4; ${CONTROL_RULE}`],
    ['DEL', 'Ana\u007fMaria', `booking_users.first_name: contains a control character U+007F (DEL) at position 4; ${CONTROL_RULE}`],
    ['C1 NEL', 'Ana\u0085Maria', `booking_users.first_name: contains a control character U+0085 (NEL) at position 4; ${CONTROL_RULE}`],
    ['C1 CSI', 'A\u009b31m', `booking_users.first_name: contains a control character U+009B (CSI) at position 2; ${CONTROL_RULE}`],
    ['U+202E', 'Ana\u202eairaM', `booking_users.first_name: contains a bidirectional-control character U+202E (RIGHT-TO-LEFT OVERRIDE) at position 4; ${CONTROL_RULE}`],
    ['U+2066', '\u2066Ana', `booking_users.first_name: contains a bidirectional-control character U+2066 (LEFT-TO-RIGHT ISOLATE) at position 1; ${CONTROL_RULE}`],
    ['U+200F', 'Ana\u200f', `booking_users.first_name: contains a bidirectional-control character U+200F (RIGHT-TO-LEFT MARK) at position 4; ${CONTROL_RULE}`],
    ['U+061C', 'محمد\u061c', `booking_users.first_name: contains a bidirectional-control character U+061C (ARABIC LETTER MARK) at position 5; ${CONTROL_RULE}`],
    ['U+2028', 'Ana\u2028Maria', 'booking_users.first_name: contains a line or paragraph separator U+2028 (LINE SEPARATOR) at position 4; names may not contain line or paragraph separators'],
    ['U+2029', 'Ana\u2029Maria', 'booking_users.first_name: contains a line or paragraph separator U+2029 (PARAGRAPH SEPARATOR) at position 4; names may not contain line or paragraph separators'],
    ['a lone high surrogate', 'Ana\ud800Maria', 'booking_users.first_name: contains a lone surrogate U+D800 at position 4; names must be well-formed Unicode text (a surrogate must be half of a pair)'],
    ['a lone low surrogate', '\udc00Ana', 'booking_users.first_name: contains a lone surrogate U+DC00 at position 1; names must be well-formed Unicode text (a surrogate must be half of a pair)'],
    ['noncharacter U+FFFE', 'Ana\ufffe', 'booking_users.first_name: contains a noncharacter U+FFFE at position 4; names may not contain Unicode noncharacters'],
    ['noncharacter U+FDD0', 'Ana\ufdd0', 'booking_users.first_name: contains a noncharacter U+FDD0 at position 4; names may not contain Unicode noncharacters'],
    ['noncharacter U+1FFFF', 'Ana\u{1ffff}', 'booking_users.first_name: contains a noncharacter U+1FFFF at position 4; names may not contain Unicode noncharacters'],
    ['a control after emoji (position in code points)', '😀😀\u001b', `booking_users.first_name: contains a control character U+001B (ESC) at position 3; ${CONTROL_RULE}`],
  ])('%s', (_name, name, message) => {
    expect(withFirstName(name)).toBe(message);
  });

  it('applies to the last name, and to book-now with the same field name and text', () => {
    expect(messageOf(() => buildRequestFromReservation(ROW, { ...USER_ROW, last_name: 'Lo\u202epez' }, VENUES))).toBe(
      `booking_users.last_name: contains a bidirectional-control character U+202E (RIGHT-TO-LEFT OVERRIDE) at position 3; ${CONTROL_RULE}`,
    );
    expect(messageOf(() => buildImmediateRequest({ ...IMMEDIATE, user: { ...IMMEDIATE.user, lastName: 'Lo\u202epez' } }, VENUES))).toBe(
      `booking_users.last_name: contains a bidirectional-control character U+202E (RIGHT-TO-LEFT OVERRIDE) at position 3; ${CONTROL_RULE}`,
    );
    expect(messageOf(() => buildImmediateRequest({ ...IMMEDIATE, user: { ...IMMEDIATE.user, firstName: 'Ana\u0007' } }, VENUES))).toBe(
      `booking_users.first_name: contains a control character U+0007 (BEL) at position 4; ${CONTROL_RULE}`,
    );
  });

  it('white space around a name (TAB, CR, LF, U+2028 included) is trimmed, not rejected; a name of only that is empty', () => {
    expect(buildRequestFromReservation(ROW, { ...USER_ROW, first_name: '\t Ana\r\n\u2028' }, VENUES).user.firstName).toBe('Ana');
    expect(withFirstName('\t\r\n ')).toBe('booking_users.first_name: is empty; a name needs 1 to 80 characters');
  });
});

describe('names: legitimate text is kept exactly as typed', () => {
  it.each([
    ['Chinese', '王秀英'],
    ['Arabic', 'محمد'],
    ['Devanagari with combining marks (virama, vowel signs)', 'अनुष्का'],
    ['a decomposed accent (e + U+0301)', 'Jose\u0301'],
    ['a ZWJ family emoji', '👩‍👩‍👧'],
    ['an emoji with a variation selector', 'Ana ❤️'],
    ['a ZWNJ (U+200C), which is not a bidi control', 'می\u200cخواهم'],
    ['markup', '<script>alert(1)</script>'],
    ['bold markup', "<b>O'Brien</b>"],
    ['SQL-looking text', "Robert'); DROP TABLE booking_users;--"],
    ['apostrophe and hyphen', "O'Brien-Smith"],
    ['spaces inside', 'Mary Ann de la Cruz'],
    ['digits and symbols', 'Ana 2nd & Co. (™)'],
  ])('%s', (_name, name) => {
    const request = buildRequestFromReservation(ROW, { ...USER_ROW, first_name: name, last_name: ` ${name} ` }, VENUES);
    expect([request.user.firstName, request.user.lastName]).toEqual([name, name]);
    expect(buildImmediateRequest({ ...IMMEDIATE, user: { ...IMMEDIATE.user, firstName: name } }, VENUES).user.firstName).toBe(name);
  });

  it('the 80-character limit counts code points, not UTF-16 units', () => {
    const emoji80 = '😀'.repeat(80); // 80 code points, 160 UTF-16 units
    expect(emoji80.length).toBe(160);
    expect(buildRequestFromReservation(ROW, { ...USER_ROW, first_name: emoji80 }, VENUES).user.firstName).toBe(emoji80);
    expect(buildRequestFromReservation(ROW, { ...USER_ROW, first_name: 'a'.repeat(80) }, VENUES).user.firstName).toBe('a'.repeat(80));
    const families16 = '👩‍👩‍👧'.repeat(16); // 5 code points each: 80
    expect(buildRequestFromReservation(ROW, { ...USER_ROW, first_name: families16 }, VENUES).user.firstName).toBe(families16);

    expect(withFirstName('😀'.repeat(81))).toBe('booking_users.first_name: is 81 characters long (Unicode code points); a name may have at most 80');
    expect(withFirstName('a'.repeat(81))).toBe('booking_users.first_name: is 81 characters long (Unicode code points); a name may have at most 80');
    expect(withFirstName('👩‍👩‍👧'.repeat(17))).toBe('booking_users.first_name: is 85 characters long (Unicode code points); a name may have at most 80');
  });
});

describe('e-mail: RFC 5321 lengths and no control characters, checked at validation', () => {
  const local64 = 'a'.repeat(64);
  // 63 + 1 + 63 + 1 + 57 + 4 = 189 characters of domain; with 64 + 1 the address is 254 characters.
  const domain189 = `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(57)}.com`;

  it('accepts 254 characters in all and 64 in the local part', () => {
    const email = `${local64}@${domain189}`;
    expect(email.length).toBe(254);
    expect(buildRequestFromReservation(ROW, { ...USER_ROW, email }, VENUES).user.email).toBe(email);
    expect(buildRequestFromReservation(ROW, { ...USER_ROW, email: `${local64}@example.com` }, VENUES).user.email).toBe(`${local64}@example.com`);
  });

  it('refuses 255 characters, a 65-character local part and a 1 kB address without quoting them', () => {
    expect(withEmail(`${local64}@${domain189.replace('.com', 'd.com')}`)).toBe('booking_users.email: is 255 characters long; an e-mail address may have at most 254 (RFC 5321)');
    expect(withEmail(`${'a'.repeat(65)}@example.com`)).toBe('booking_users.email: has a local part (before the @) of 65 characters; it may have at most 64 (RFC 5321)');
    expect(withEmail(`${'a'.repeat(1000)}@example.com`)).toBe('booking_users.email: is 1012 characters long; an e-mail address may have at most 254 (RFC 5321)');
    expect(messageOf(() => buildImmediateRequest({ ...IMMEDIATE, user: { ...IMMEDIATE.user, email: `${'a'.repeat(65)}@example.com` } }, VENUES))).toBe(
      'booking_users.email: has a local part (before the @) of 65 characters; it may have at most 64 (RFC 5321)',
    );
  });

  it('refuses control and bidi characters, naming the code point', () => {
    expect(withEmail('ana\u0007@example.com')).toBe(
      'booking_users.email: contains a control character U+0007 (BEL) at position 4; e-mail addresses may not contain control or bidirectional-control characters',
    );
    expect(withEmail('ana@exa\u202emple.com')).toBe(
      'booking_users.email: contains a bidirectional-control character U+202E (RIGHT-TO-LEFT OVERRIDE) at position 8; e-mail addresses may not contain control or bidirectional-control characters',
    );
    expect(withEmail('ana\r\n@example.com')).toBe(
      'booking_users.email: contains a control character U+000D (CR) at position 4; e-mail addresses may not contain control or bidirectional-control characters',
    );
    expect(buildRequestFromReservation(ROW, { ...USER_ROW, email: ' ana@example.com\n' }, VENUES).user.email).toBe('ana@example.com');
  });
});

describe('phone and quoted values', () => {
  it('a phone has at most 40 characters (the spaces of a 1 kB phone are not digits, but are still sent)', () => {
    const phone40 = `+502${' '.repeat(28)}55551234`;
    expect(phone40.length).toBe(40);
    expect(buildRequestFromReservation(ROW, { ...USER_ROW, phone: phone40 }, VENUES).user.phone).toBe(phone40);
    expect(messageOf(() => buildRequestFromReservation(ROW, { ...USER_ROW, phone: `+502${' '.repeat(29)}55551234` }, VENUES))).toBe(
      'booking_users.phone: is 41 characters long; a phone number may have at most 40',
    );
  });

  it('a quoted bad value shows bidi and C1 controls as escapes, never as the characters', () => {
    expect(messageOf(() => buildRequestFromReservation({ ...ROW, venue: 'club\u202e\u0085' }, USER_ROW, VENUES))).toBe('venue: unknown venue "club\\u202e\\u0085"');
    expect(messageOf(() => buildRequestFromReservation({ ...ROW, target_time: '07:00\u2028' }, USER_ROW, VENUES))).toBe('target_time: "07:00\\u2028" is not a 24-hour HH:MM time');
  });
});
