/**
 * A venue's request budget: at most `requests` requests to the venue's host in any `perS` seconds, counted by
 * every page of every reservation of that venue in one daemon (the SPA flow's request guard takes one place
 * per request before it lets it go). Pure apart from the instants it is given.
 */

/** The budget's setting (config `site.requestBudget`). */
export interface RequestBudgetSetting {
  /** Most requests in one window. */
  requests: number;
  /** The window, seconds. */
  perS: number;
}

/** A sliding-window budget shared by the pages of one venue. */
export interface RequestBudget {
  readonly setting: RequestBudgetSetting;
  /** Takes one place at `nowMs`; false when the window is full (nothing is taken then). */
  take(nowMs: number): boolean;
  /** How long from `nowMs` until a place frees up, ms (0 when one is free). */
  retryAfterMs(nowMs: number): number;
  /** Requests refused since the budget was made. */
  refused(): number;
}

/**
 * Creates a budget. A sliding window (not a token bucket) because it is the shape of the site's own published
 * limit ("10 req/s"), and it is a handful of lines; no library is needed for one array of instants.
 *
 * @throws RangeError when `requests` or `perS` is not a positive integer.
 */
export function createRequestBudget(setting: RequestBudgetSetting): RequestBudget {
  if (!Number.isInteger(setting.requests) || setting.requests < 1) throw new RangeError(`requestBudget.requests must be a positive integer, got ${setting.requests}`);
  if (!Number.isInteger(setting.perS) || setting.perS < 1) throw new RangeError(`requestBudget.perS must be a positive integer, got ${setting.perS}`);
  const windowMs = setting.perS * 1000;
  const arrivals: number[] = [];
  let refused = 0;
  const forget = (nowMs: number): void => {
    while (arrivals.length > 0 && arrivals[0]! <= nowMs - windowMs) arrivals.shift();
  };
  return {
    setting: { ...setting },
    take(nowMs) {
      forget(nowMs);
      if (arrivals.length >= setting.requests) {
        refused++;
        return false;
      }
      arrivals.push(nowMs);
      return true;
    },
    retryAfterMs(nowMs) {
      forget(nowMs);
      return arrivals.length < setting.requests ? 0 : Math.max(0, arrivals[0]! + windowMs - nowMs);
    },
    refused: () => refused,
  };
}
