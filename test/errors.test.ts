import { describe, expect, it } from 'vitest';
import { BrowserNotFoundError } from '../src/booking/browser.js';
import { ConfigError } from '../src/config/load.js';
import { ContractError } from '../src/contracts/index.js';
import { DatabaseConnectionError, DatabaseStartError } from '../src/db/errors.js';
import { ReservdError } from '../src/errors.js';
import { SlotTimeError } from '../src/scheduling/release-time.js';

describe('ReservdError', () => {
  it('carries code, retryable (default false), cause and the class name', () => {
    const cause = new Error('underlying');
    const err = new ReservdError('unknown_court', 'venue "x": court 9 is not configured', { cause });
    expect([err.name, err.code, err.retryable, err.message, err.cause]).toEqual(['ReservdError', 'unknown_court', false, 'venue "x": court 9 is not configured', cause]);
    expect(new ReservdError('x', 'm', { retryable: true }).retryable).toBe(true);
    expect('cause' in new ReservdError('x', 'm')).toBe(false);
  });

  it('is the base of every error class a caller branches on, each named after itself', () => {
    const cause = new Error('underlying');
    const cases: Array<[ReservdError, string, string, boolean]> = [
      [new ContractError('courts', 'is empty', { cause }), 'ContractError', 'invalid_request', false],
      [new ConfigError('bad', { cause }), 'ConfigError', 'config_invalid', false],
      [new SlotTimeError('target_time', 'gap', { cause }), 'SlotTimeError', 'slot_time_invalid', false],
      [new DatabaseStartError('data_dir_unusable', 'bad dir', { cause }), 'DatabaseStartError', 'data_dir_unusable', false],
      [new DatabaseConnectionError('unavailable', 'down', { cause }), 'DatabaseConnectionError', 'unavailable', true],
      [new DatabaseConnectionError('pool_exhausted', 'busy', { cause }), 'DatabaseConnectionError', 'pool_exhausted', false],
    ];
    for (const [err, name, code, retryable] of cases) {
      expect(err).toBeInstanceOf(ReservdError);
      expect(err).toBeInstanceOf(Error);
      expect([err.name, err.code, err.retryable, err.cause]).toEqual([name, code, retryable, cause]);
    }
    const browser = new BrowserNotFoundError('no Chromium found');
    expect([browser instanceof ReservdError, browser.name, browser.code, browser.retryable]).toEqual([true, 'BrowserNotFoundError', 'browser_not_found', false]);
  });
});
