import type { Clock } from '../../clock.js';
import type { FlowResult, SlotFlow } from '../flow.js';
import { DEFAULT_PREPARE_TIMEOUT_MS, prepareAcuityAttempt, warmRequestContext, type AcuityHandle, type AcuityMode, type AcuitySubmitArgs } from './acuity-handle.js';
import { submitAcuityRendered } from './acuity-rendered.js';
import { submitAcuityRequest, type AcuityRequestOptions } from './acuity-request.js';

/**
 * The Acuity Scheduling flow for ONE court attempt: open the slot's direct link (C10) ahead of time, then at
 * the fire instant submit in one of two modes:
 * - `request` (default): the booking is one or two HTTP requests through the page's request context
 *   (`acuity-request.ts`, ≈ 10 ms here);
 * - `rendered`: fill and click in the page (`acuity-rendered.ts`, ≈ 500 ms here), the fallback for a site
 *   whose form only exists after scripts ran.
 * In request mode `prepare` renders nothing: it GETs the slot through the page's request context.
 * Both await the caller's intent write before anything is sent. Expected outcomes are values, not
 * exceptions; an unexpected exception goes through `mapFlowError`.
 */

export { prepareAcuityAttempt, type AcuityHandle, type AcuityMode, type AcuitySubmitArgs } from './acuity-handle.js';
export { CONFIRMATION_READ_MIN_MS, submitAcuityRequest, type AcuityRequestOptions } from './acuity-request.js';

/**
 * Submits a prepared attempt in `args.mode` (default `request`). Never throws; see
 * {@link submitAcuityRequest} and {@link submitAcuityRendered}.
 */
export function submitAcuityAttempt(handle: AcuityHandle, args: AcuitySubmitArgs & AcuityRequestOptions & { mode?: AcuityMode }): Promise<FlowResult> {
  return (args.mode ?? 'request') === 'request' ? submitAcuityRequest(handle, args) : submitAcuityRendered(handle, args);
}

/** Options of {@link createAcuityFlow}. */
export interface AcuityFlowOptions extends AcuityRequestOptions {
  /** Times prepare and submit (`timingsMs`) and measures the submit budget. */
  clock: Clock;
  /** How submit talks to the site. Default `request`. */
  mode?: AcuityMode;
  /** Budget of prepare's navigation, ms. Default 30 000. */
  prepareTimeoutMs?: number;
}

/** The Acuity {@link SlotFlow} plus an optional warm-up the executor may call before the fire instant. */
export interface AcuityFlow extends SlotFlow<AcuityHandle> {
  /**
   * Request mode: refreshes `page.request`'s keep-alive connection to the site (servers drop idle ones
   * after ~60–75 s) and, when the slot is already open, keeps a fresh form. Call it ~1–5 s before the fire
   * instant when the wait after `prepare` is long. Never throws; a no-op in rendered mode.
   * @param warmTimeoutMs budget of the GET, ms (default 5 000).
   */
  warm(handle: AcuityHandle, warmTimeoutMs?: number): Promise<void>;
}

/**
 * The Acuity flow as a {@link SlotFlow} (name `acuity` in both modes: the site is the same). Timings
 * (`timingsMs`, ms): `prepare_ms`, `total_ms`, and per mode `warm_ms`, `get_ms`, `before_submit_ms`,
 * `post_ms`, `confirm_ms` (request) or `reload_ms`, `fill_ms`, `before_submit_ms`, `submit_to_result_ms`
 * (rendered).
 */
export function createAcuityFlow(options: AcuityFlowOptions): AcuityFlow {
  const mode = options.mode ?? 'request';
  const showConfirmation = options.showConfirmation ?? false;
  const timeoutMs = options.prepareTimeoutMs ?? DEFAULT_PREPARE_TIMEOUT_MS;
  return {
    name: 'acuity',
    // Request mode: no render before the release, only a GET through the page's request context.
    prepare: (page, target) => prepareAcuityAttempt(page, target, { clock: options.clock, timeoutMs, warmRequest: mode === 'request', render: mode === 'rendered' }),
    submit: (handle, args) => submitAcuityAttempt(handle, { ...args, clock: options.clock, mode, showConfirmation }),
    async warm(handle, warmTimeoutMs = 5_000) {
      if (mode !== 'request') return;
      try {
        const served = await warmRequestContext(handle.browser.request, handle.url, warmTimeoutMs);
        if (served.state === 'form') handle.prepared.form = served.form;
      } catch {
        // Only a warm-up: the submit makes its own request and reports what goes wrong there.
      }
    },
  };
}
