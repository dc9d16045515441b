import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BookingResult,
  ContractError,
  METADATA_KEYS,
  REQUIRED_METADATA_KEYS,
  buildImmediateRequest,
  buildRequestFromReservation,
  createBookingMetadata,
  createCourtPreference,
  fromExecutionResult,
  notificationTone,
  parseJsonResult,
  parseStoredResult,
  persistencePath,
  toJsonResult,
  toStoredResult,
  withoutContact,
  withReservationId,
  type BookingMetadata,
  type BookingRequest,
  type BookingUserRowInput,
  type ImmediateRequestInput,
  type ReservationRowInput,
} from '../src/contracts/index.js';

const VENUES = new Set(['riverside']);
const ROW: ReservationRowInput = { id: '42', venue: 'riverside', target_date: '2027-03-14', target_time: '07:00', courts: [3, 1, 2], queue_position: 5 };
const USER_ROW: BookingUserRowInput = { first_name: ' Ana ', last_name: 'Lopez', email: ' ana@example.com ', phone: '+502 (555) 123-4567' };
const IMMEDIATE: ImmediateRequestInput = {
  user: { firstName: 'Ana', lastName: 'Lopez', email: 'ana@example.com', phone: '+502 (555) 123-4567' },
  venue: 'riverside',
  targetDate: '2027-03-14',
  targetTime: '07:00',
  courts: [3, 1, 2],
};
const META_ARGS = { executor: 'executor-1', flow: 'acuity', browserId: 'browser-7', attempt: 1 };

const queued = (): BookingRequest => buildRequestFromReservation(ROW, USER_ROW, VENUES);
const immediate = (): BookingRequest => buildImmediateRequest(IMMEDIATE, VENUES);

/** Runs `fn`, asserts it throws a ContractError for `field` whose message contains every `parts` entry. */
function expectContractError(fn: () => unknown, field: string, ...parts: string[]): ContractError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ContractError);
  const err = caught as ContractError;
  expect(err.field).toBe(field);
  expect(err.message.startsWith(`${field}: `)).toBe(true);
  for (const part of parts) expect(err.message).toContain(part);
  return err;
}

describe('ContractError', () => {
  it('has a stable code, is not retryable, and names the field once', () => {
    const err = new ContractError('booking_users.email', 'not a valid email address (got "bob@")');
    expect(err).toBeInstanceOf(Error);
    expect([err.name, err.code, err.retryable, err.field]).toEqual(['ContractError', 'invalid_request', false, 'booking_users.email']);
    expect(err.message).toBe('booking_users.email: not a valid email address (got "bob@")');
    expect(new ContractError('courts', 'courts: court 9 is not a court of venue "riverside"').message).toBe('courts: court 9 is not a court of venue "riverside"');
  });
});

describe('CourtPreference', () => {
  it('asList() returns a fresh non-empty copy; the preference is frozen and detached from its input', () => {
    const input = [2, 1];
    const pref = createCourtPreference(input);
    const list = pref.asList();
    expect(list).toEqual([2, 1]);
    list.push(9);
    input.push(7);
    expect(pref.asList()).toEqual([2, 1]);
    expect(pref.asList()).not.toBe(pref.asList());
    expect(Object.isFrozen(pref) && Object.isFrozen(pref.courts)).toBe(true);
  });

  it.each([
    [[], 'the court list is empty'],
    [[1, 3, 3], 'court 3 is listed twice in [1,3,3]'],
    [[0], 'entry 1 of [0] is 0'],
    [[1, 2.5], 'entry 2 of [1,2.5] is 2.5'],
  ])('rejects %j', (courts, text) => {
    expectContractError(() => createCourtPreference(courts), 'courts', text);
  });
});

describe('builders: rejections name the column (rows and book-now alike) and quote the bad value', () => {
  it('produces the exact sentences of the brief', () => {
    expect(expectContractError(() => buildRequestFromReservation({ ...ROW, target_time: '25:00' }, USER_ROW, VENUES), 'target_time').message)
      .toBe('target_time: "25:00" is not a 24-hour HH:MM time');
    expect(expectContractError(() => buildRequestFromReservation({ ...ROW, courts: [] }, USER_ROW, VENUES), 'courts').message)
      .toBe('courts: the court list is empty');
    expect(expectContractError(() => buildRequestFromReservation({ ...ROW, venue: 'nowhere' }, USER_ROW, VENUES), 'venue').message)
      .toBe('venue: unknown venue "nowhere"');
    expect(expectContractError(() => buildRequestFromReservation(ROW, { ...USER_ROW, email: 'bob@' }, VENUES), 'booking_users.email').message)
      .toBe('booking_users.email: "bob@" is not a valid email address');
  });

  const rowCases: [string, Partial<ReservationRowInput>, Partial<BookingUserRowInput>, string, string][] = [
    ['empty court list', { courts: [] }, {}, 'courts', 'empty'],
    ['null court list', { courts: null }, {}, 'courts', 'null'],
    ['duplicate court', { courts: [4, 2, 4] }, {}, 'courts', 'court 4 is listed twice in [4,2,4]'],
    ['null court entry', { courts: [1, null] }, {}, 'courts', 'entry 2 of [1,null] is null'],
    ['bad email', {}, { email: 'bob@' }, 'booking_users.email', '"bob@"'],
    ['missing email', {}, { email: null }, 'booking_users.email', 'missing (got null)'],
    ['letters in phone', {}, { phone: '555-CALL-NOW' }, 'booking_users.phone', '"555-CALL-NOW"'],
    ['too few digits', {}, { phone: '+1 234' }, 'booking_users.phone', '"+1 234"'],
    ['too many digits', {}, { phone: '123456789012345678901' }, 'booking_users.phone', '"123456789012345678901"'],
    ['empty first name', {}, { first_name: '   ' }, 'booking_users.first_name', 'empty'],
    ['hour 25', { target_time: '25:00' }, {}, 'target_time', '"25:00"'],
    ['one-digit hour', { target_time: '7:00' }, {}, 'target_time', '"7:00"'],
    ['seconds (pg time column)', { target_time: '07:00:00' }, {}, 'target_time', '"07:00:00"'],
    ['30 February', { target_date: '2027-02-30' }, {}, 'target_date', '"2027-02-30"'],
    ['29 February of a common year', { target_date: '2027-02-29' }, {}, 'target_date', '"2027-02-29"'],
    ['not a date', { target_date: '14/03/2027' }, {}, 'target_date', '"14/03/2027"'],
    ['unknown venue', { venue: 'nowhere' }, {}, 'venue', '"nowhere"'],
    ['bad id', { id: 'abc' }, {}, 'id', '"abc"'],
    ['negative queue position', { queue_position: -1 }, {}, 'queue_position', '-1'],
  ];
  it.each(rowCases)('row: %s', (_name, rowPatch, userPatch, field, text) => {
    expectContractError(() => buildRequestFromReservation({ ...ROW, ...rowPatch }, { ...USER_ROW, ...userPatch }, VENUES), field, text);
  });

  const immediateCases: [string, Partial<ImmediateRequestInput>, Partial<ImmediateRequestInput['user']>, string][] = [
    ['empty court list', { courts: [] }, {}, 'courts: the court list is empty'],
    ['duplicate court', { courts: [1, 1] }, {}, 'courts: court 1 is listed twice in [1,1]'],
    ['bad email', {}, { email: 'bob@' }, 'booking_users.email: "bob@" is not a valid email address'],
    ['bad phone', {}, { phone: 'call me' }, 'booking_users.phone: "call me" is not a phone number (digits, with optional leading +, spaces, dashes, parentheses)'],
    ['empty first name', {}, { firstName: ' ' }, 'booking_users.first_name: is empty; a name needs 1 to 80 characters'],
    ['empty last name', {}, { lastName: '' }, 'booking_users.last_name: is empty; a name needs 1 to 80 characters'],
    ['hour 25', { targetTime: '25:00' }, {}, 'target_time: "25:00" is not a 24-hour HH:MM time'],
    ['one-digit hour', { targetTime: '7:00' }, {}, 'target_time: "7:00" is not a 24-hour HH:MM time'],
    ['seconds', { targetTime: '07:00:00' }, {}, 'target_time: "07:00:00" is not a 24-hour HH:MM time'],
    ['30 February', { targetDate: '2027-02-30' }, {}, 'target_date: "2027-02-30" is not a real calendar date in YYYY-MM-DD form'],
    ['unknown venue', { venue: 'nowhere' }, {}, 'venue: unknown venue "nowhere"'],
  ];
  it.each(immediateCases)('book-now: %s, named by the column as for a row', (_name, patch, userPatch, message) => {
    const field = message.slice(0, message.indexOf(': '));
    const err = expectContractError(() => buildImmediateRequest({ ...IMMEDIATE, ...patch, user: { ...IMMEDIATE.user, ...userPatch } }, VENUES), field);
    expect(err.message).toBe(message);
  });

  it('the same bad input gives the same error from a row and from book-now', () => {
    const pairs: [Partial<ReservationRowInput>, Partial<BookingUserRowInput>, Partial<ImmediateRequestInput>, Partial<ImmediateRequestInput['user']>][] = [
      [{ target_time: '7:00' }, {}, { targetTime: '7:00' }, {}],
      [{ target_date: '2027-02-29' }, {}, { targetDate: '2027-02-29' }, {}],
      [{ courts: [2, 2] }, {}, { courts: [2, 2] }, {}],
      [{}, { email: 'ana@@example.com' }, {}, { email: 'ana@@example.com' }],
      [{}, { last_name: 'Lo\u202epez' }, {}, { lastName: 'Lo\u202epez' }],
    ];
    for (const [rowPatch, userRowPatch, patch, userPatch] of pairs) {
      const fromRow = expectThrown(() => buildRequestFromReservation({ ...ROW, ...rowPatch }, { ...USER_ROW, ...userRowPatch }, VENUES));
      const fromCli = expectThrown(() => buildImmediateRequest({ ...IMMEDIATE, ...patch, user: { ...IMMEDIATE.user, ...userPatch } }, VENUES));
      expect([fromCli.field, fromCli.message]).toEqual([fromRow.field, fromRow.message]);
    }
  });
});

/** The ContractError `fn` throws. */
function expectThrown(fn: () => unknown): ContractError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ContractError);
    return err as ContractError;
  }
  throw new Error('expected a ContractError');
}

describe('builders: accepted requests', () => {
  it('queued: trims, converts the int8 id, keeps order, is frozen', () => {
    const r = queued();
    expect(r).toMatchObject({
      user: { firstName: 'Ana', lastName: 'Lopez', email: 'ana@example.com', phone: '+502 (555) 123-4567' },
      venue: 'riverside', targetDate: '2027-03-14', targetTime: '07:00', source: 'queue', reservationId: 42, queuePosition: 5,
    });
    expect(r.courtPreference.asList()).toEqual([3, 1, 2]);
    expect(Object.isFrozen(r) && Object.isFrozen(r.user)).toBe(true);
  });

  it('accepts a leap day, a numeric id, no queue position, and a venue predicate', () => {
    const r = buildRequestFromReservation({ ...ROW, id: 7, target_date: '2028-02-29', queue_position: undefined }, USER_ROW, (id) => id === 'riverside');
    expect([r.reservationId, r.targetDate, r.queuePosition]).toEqual([7, '2028-02-29', null]);
    expect(() => buildRequestFromReservation(ROW, USER_ROW, () => false)).toThrow('venue: unknown venue "riverside"');
  });

  it('immediate and queued builders give the same request for the same data, except source/reservationId/queuePosition', () => {
    const q = queued();
    const i = immediate();
    const plain = (r: BookingRequest) => ({ ...r, courtPreference: r.courtPreference.asList() });
    expect(plain(i)).toEqual({ ...plain(q), source: 'immediate', reservationId: null, queuePosition: null });
  });

  it('withReservationId attaches an id to a book-now request, without changing the original', () => {
    const i = immediate();
    const attached = withReservationId(i, 99);
    expect([attached.reservationId, attached.source, i.reservationId]).toEqual([99, 'immediate', null]);
    expect(Object.isFrozen(attached)).toBe(true);
    expectContractError(() => withReservationId(i, 0), 'reservationId', '0');
    expectContractError(() => withReservationId(attached, 100), 'reservationId', '100', '99');
  });
});

describe('metadata', () => {
  it('createBookingMetadata fills the required keys, plus reservation_id/queue_position for a queued request', () => {
    const m = createBookingMetadata(queued(), { ...META_ARGS, extra: { court: 3 } });
    expect(m).toEqual({
      target_date: '2027-03-14', target_time: '07:00', venue: 'riverside', executor: 'executor-1', flow: 'acuity',
      browser_id: 'browser-7', attempt: 1, reservation_id: 42, queue_position: 5, court: 3,
    });
    for (const key of REQUIRED_METADATA_KEYS) expect(m).toHaveProperty(key);
    const im = createBookingMetadata(immediate(), META_ARGS);
    expect(im).not.toHaveProperty('reservation_id');
    expect(im).not.toHaveProperty('queue_position');
    expect(Object.isFrozen(m)).toBe(true);
  });

  class Thing {}
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const badExtras: [string, Record<string, unknown>, string, string][] = [
    ['a function', { notify: () => 1 }, 'metadata.notify', 'function'],
    ['undefined', { note: undefined }, 'metadata.note', 'undefined'],
    ['NaN', { fire_lag_ms: Number.NaN }, 'metadata.fire_lag_ms', 'NaN'],
    ['Infinity', { site_clock_offset_ms: Number.POSITIVE_INFINITY }, 'metadata.site_clock_offset_ms', 'Infinity'],
    ['a nested NaN', { timings_ms: { submit: Number.NaN } }, 'metadata.timings_ms.submit', 'NaN'],
    ['a bigint', { big: 10n }, 'metadata.big', 'bigint'],
    ['a Date', { fired_at: new Date(0) }, 'metadata.fired_at', 'Date'],
    ['a Map', { seen: new Map() }, 'metadata.seen', 'Map'],
    ['a class instance', { thing: new Thing() }, 'metadata.thing', 'Thing'],
    ['an array hole', { courts_tried: [1, , 3] }, 'metadata.courts_tried[1]', 'undefined'],
    ['a cycle', { loop: cyclic }, 'metadata.loop.self', 'cycle'],
    ['a key that is not an identifier', { 'odd key': () => 1 }, 'metadata["odd key"]', 'function'],
  ];
  it.each(badExtras)('rejects %s and names its key path', (_name, extra, field, text) => {
    expectContractError(() => createBookingMetadata(queued(), { ...META_ARGS, extra }), field, text);
    const hand = { ...createBookingMetadata(queued(), META_ARGS), ...extra } as BookingMetadata;
    expectContractError(() => BookingResult.success({ request: queued(), court: 1, confirmationCode: 'X', metadata: hand }), field, text);
  });

  it('accepts shared (non-cyclic) references and copies metadata so later changes do not leak in', () => {
    const shared = { open: 12 };
    const timings = { a: shared.open, b: shared.open };
    const m = createBookingMetadata(queued(), { ...META_ARGS, extra: { timings_ms: timings, pair: [shared, shared] } });
    timings.a = 999;
    expect(m.timings_ms).toEqual({ a: 12, b: 12 });
  });

  it('rejects missing required keys, wrong types, contradictions with the request', () => {
    const base = createBookingMetadata(queued(), META_ARGS);
    const { executor: _e, ...noExecutor } = base;
    const { reservation_id: _r, ...noReservation } = base;
    const request = queued();
    const ok = { request, court: 1, confirmationCode: 'X' };
    expectContractError(() => BookingResult.success({ ...ok, metadata: noExecutor as BookingMetadata }), 'metadata.executor', 'missing');
    expectContractError(() => BookingResult.success({ ...ok, metadata: noReservation as BookingMetadata }), 'metadata.reservation_id', 'missing');
    expectContractError(() => BookingResult.success({ ...ok, metadata: { ...base, attempt: 1.5 } }), 'metadata.attempt', '1.5');
    expectContractError(() => BookingResult.success({ ...ok, metadata: { ...base, release_at: '7am' } }), 'metadata.release_at', '"7am"');
    expectContractError(() => BookingResult.success({ ...ok, metadata: { ...base, target_date: '2027-03-15' } }), 'metadata.target_date', '"2027-03-15"', '"2027-03-14"');
    expectContractError(() => createBookingMetadata(request, { ...META_ARGS, extra: { reservation_id: 41 } }), 'metadata.reservation_id', '41', '42');
    expectContractError(
      () => BookingResult.failure({ user: request.user, venue: 'riverside', source: 'queue', outcome: 'error', errors: ['x'], metadata: noReservation as BookingMetadata }),
      'metadata.reservation_id',
      'missing',
    );
  });
});

describe('BookingResult', () => {
  const request = queued();
  const metadata = createBookingMetadata(request, { ...META_ARGS, extra: { court: 3, courts_tried: [3] } });

  it('success echoes the request user, source and venue; is deep-frozen; celebrates; persists as succeeded', () => {
    const r = BookingResult.success({ request, court: 3, confirmationCode: ' ABC123 ', metadata, message: 'booked court 3' });
    expect(r).toMatchObject({ status: 'success', outcome: 'booked', user: request.user, source: 'queue', venue: 'riverside', court: 3, confirmationCode: 'ABC123', errors: [], message: 'booked court 3' });
    expect(r.user).toEqual(request.user);
    expect(Object.isFrozen(r) && Object.isFrozen(r.metadata) && Object.isFrozen(r.errors) && Object.isFrozen(r.user)).toBe(true);
    expect([notificationTone(r), persistencePath(r)]).toEqual(['celebrate', 'succeeded']);
  });

  it('success requires a confirmation code and a positive court', () => {
    expectContractError(() => BookingResult.success({ request, court: 3, confirmationCode: '  ', metadata }), 'confirmationCode', 'empty');
    expectContractError(() => BookingResult.success({ request, court: 0, confirmationCode: 'A', metadata }), 'court', '0');
    expectContractError(() => BookingResult.success({ request, court: null as unknown as number, confirmationCode: 'A', metadata }), 'court', 'missing');
  });

  it('a failure without any error or message throws (blank entries do not count)', () => {
    expectContractError(() => BookingResult.failure({ request, outcome: 'error', metadata }), 'errors', 'at least one error or a message');
    expectContractError(() => BookingResult.failure({ request, outcome: 'error', errors: ['  '], message: ' ', metadata }), 'errors', 'at least one');
    expectContractError(() => BookingResult.failure({ request, outcome: 'booked' as 'error', errors: ['x'], metadata }), 'outcome', '"booked"');
  });

  it.each([
    ['slot_taken', 'warn'],
    ['not_open_yet', 'warn'],
    ['site_blocked', 'alert'],
    ['site_changed', 'alert'],
    ['timeout', 'alert'],
    ['interrupted', 'alert'],
    ['invalid_request', 'alert'],
    ['error', 'alert'],
  ] as const)('failure %s: tone %s, persisted as failed, user echoed', (outcome, tone) => {
    const r = BookingResult.failure({ request, outcome, errors: [`court 3: ${outcome}`], metadata, court: 3 });
    expect([r.status, r.outcome, r.confirmationCode, r.court, notificationTone(r), persistencePath(r)]).toEqual(['failure', outcome, null, 3, tone, 'failed']);
    expect(r.user).toEqual(request.user);
  });

  it('a failure may carry only a message, and may be made without a request', () => {
    const im = immediate();
    const r = BookingResult.failure({ user: im.user, venue: im.venue, source: 'immediate', outcome: 'invalid_request', message: 'courts: court 9 is not a court', metadata: createBookingMetadata(im, META_ARGS) });
    expect([r.errors, r.message, r.user]).toEqual([[], 'courts: court 9 is not a court', im.user]);
  });

  it('round-trips through toJsonResult/parseJsonResult, and parseJsonResult re-checks the invariants', () => {
    const r = BookingResult.success({ request, court: 3, confirmationCode: 'ABC123', metadata });
    const json = toJsonResult(r);
    expect(Object.isFrozen(json)).toBe(false);
    expect(parseJsonResult(JSON.parse(JSON.stringify(json)))).toEqual(r);
    expect(parseJsonResult(JSON.stringify(json))).toEqual(r);
    const broken = { ...json, status: 'failure', outcome: 'error', confirmationCode: null, errors: [], message: null };
    expectContractError(() => parseJsonResult(broken), 'result.errors', 'at least one');
    expectContractError(() => parseJsonResult({ ...json, metadata: { ...r.metadata, attempt: 'one' } }), 'result.metadata.attempt', '"one"');
    expectContractError(() => parseJsonResult('{not json'), 'result', 'not valid JSON');
  });
});

describe('legacy ExecutionResult adapter', () => {
  const request = queued();

  it('maps a success: court, confirmation code, message, timings as timings_ms', () => {
    const r = fromExecutionResult(
      { success: true, court: 2, time: '07:00', confirmation: 'CONF-9', error: null, message: 'Booked!', timings: { load: 812.5, submit: 140 } },
      request,
      META_ARGS,
    );
    expect(r).toMatchObject({ status: 'success', outcome: 'booked', court: 2, confirmationCode: 'CONF-9', message: 'Booked!', errors: [], user: request.user });
    expect(r.metadata).toMatchObject({ timings_ms: { load: 812.5, submit: 140 }, reservation_id: 42, executor: 'executor-1' });
  });

  it.each([
    ['Slot no longer available', 'slot_taken'],
    ['court already TAKEN by someone', 'slot_taken'],
    ['booking not yet open', 'not_open_yet'],
    ['calendar not open', 'not_open_yet'],
    ['CAPTCHA shown', 'site_blocked'],
    ['we were blocked', 'site_blocked'],
    ['navigation timeout', 'timeout'],
    ['request timed out', 'timeout'],
    ['selector missing', 'error'],
  ] as const)('maps failure "%s" to %s, keeping error and message', (error, outcome) => {
    const r = fromExecutionResult({ success: false, court: 1, time: null, confirmation: null, error, message: 'tried court 1', timings: {} }, request, META_ARGS);
    expect(r).toMatchObject({ status: 'failure', outcome, errors: [error], message: 'tried court 1', court: 1, confirmationCode: null });
  });

  it('guesses from the message when there is no error, and never drops a failure with neither', () => {
    const fromMessage = fromExecutionResult({ success: false, message: 'Slot no longer available' }, request, META_ARGS);
    expect([fromMessage.outcome, fromMessage.errors, fromMessage.message]).toEqual(['slot_taken', [], 'Slot no longer available']);
    const bare = fromExecutionResult({ success: false }, request, META_ARGS);
    expect([bare.outcome, bare.message]).toEqual(['error', 'legacy result reported failure without an error or message']);
  });

  it('turns a success without a confirmation code into an error failure that warns about a possible booking', () => {
    const r = fromExecutionResult({ success: true, court: 2, confirmation: null }, request, META_ARGS);
    expect([r.status, r.outcome, r.court]).toEqual(['failure', 'error', 2]);
    expect(r.errors[0]).toContain('without a confirmation code');
  });

  it('rejects a value that is not an ExecutionResult, naming the key', () => {
    expectContractError(() => fromExecutionResult({ success: 'yes' }, request, META_ARGS), 'legacy.success', '"yes"');
    expectContractError(() => fromExecutionResult({ success: false, timings: { load: 'fast' } }, request, META_ARGS), 'legacy.timings.load', '"fast"');
  });
});

describe('docs/metadata.md', () => {
  it('lists exactly the keys of METADATA_KEYS in its table', () => {
    const doc = readFileSync(new URL('../docs/metadata.md', import.meta.url), 'utf8');
    const documented = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
    for (const key of METADATA_KEYS) expect(documented, `docs/metadata.md lacks ${key}`).toContain(key);
    expect([...documented].sort()).toEqual([...METADATA_KEYS].sort());
  });
});

describe('stored results keep no contact details', () => {
  const success = () => BookingResult.success({ request: queued(), court: 3, confirmationCode: 'ABC123', metadata: createBookingMetadata(queued(), META_ARGS), message: 'booked court 3' });

  it('toStoredResult drops user.email and user.phone, keeps the names and everything else', () => {
    const stored = toStoredResult(success());
    expect(stored.user).toEqual({ firstName: 'Ana', lastName: 'Lopez' });
    expect(stored).toEqual({ ...toJsonResult(success()), user: { firstName: 'Ana', lastName: 'Lopez' } });
    expect(JSON.stringify(stored)).not.toContain('ana@example.com');
    expect(JSON.stringify(stored)).not.toContain('123-4567');
  });

  it('parseStoredResult rebuilds the user from booking_users, replacing whatever the JSON carried', () => {
    const user = { firstName: 'Ana', lastName: 'Lopez', email: 'ana.new@example.com', phone: '+502 5555 0000' };
    expect(parseStoredResult(toStoredResult(success()), user).user).toEqual(user);
    expect(parseStoredResult(JSON.stringify(toJsonResult(success())), user).user).toEqual(user);
    expect(() => parseStoredResult('[1]', user)).toThrow('is not a JSON object');
    expectContractError(() => parseStoredResult(toStoredResult(success()), { ...user, email: 'not-an-email' }), 'result.user.email', 'is not a valid email address');
  });

  it('withoutContact replaces the e-mail (any case) and the phone as written', () => {
    expect(withoutContact('ANA@Example.com and +502 (555) 123-4567 refused', { email: 'ana@example.com', phone: '+502 (555) 123-4567' })).toBe('[e-mail] and [phone] refused');
    expect(withoutContact('a.b@x.io vs aXb@x.io', { email: 'a.b@x.io', phone: '5550000' })).toBe('[e-mail] vs aXb@x.io');
  });
});
