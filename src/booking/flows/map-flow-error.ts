import { errors } from 'playwright-core';

/**
 * The one function that turns an unexpected exception of a flow into an outcome (expected outcomes are
 * values, never exceptions): a Playwright `TimeoutError` (or any error named `TimeoutError`) → `timeout`; anything else → `error`.
 * The message is the error's first line (Playwright appends long call logs), at most 300 characters.
 */
export function mapFlowError(err: unknown): { outcome: 'timeout' | 'error'; message: string } {
  const isTimeout = err instanceof errors.TimeoutError || (err instanceof Error && err.name === 'TimeoutError');
  const raw = err instanceof Error ? err.message : String(err);
  const firstLine = (raw.split('\n')[0] ?? '').trim() || (err instanceof Error ? err.name : 'unknown error');
  return { outcome: isTimeout ? 'timeout' : 'error', message: firstLine.length > 300 ? `${firstLine.slice(0, 297)}...` : firstLine };
}
