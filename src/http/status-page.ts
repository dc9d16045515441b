import { withoutContacts } from '../redact.js';
import type { StatusPageRow } from '../reservations/index.js';
import type { FireSample } from '../telemetry/metrics.js';

/**
 * The status page at `/` (README "Observability"): upcoming releases with a live countdown, recent outcomes
 * with their confirmation codes or reasons, and a chart of recent fire lags. Pure: it renders what it is
 * given. Every piece of stored text is escaped; no contact details are ever passed in. No external assets:
 * the style, the countdown script and the chart (inline SVG, drawn here on the server) are in the page.
 */

/** What the page shows. */
export interface StatusPageData {
  /** Render instant, epoch ms (the countdown starts from it and then follows the browser's clock). */
  nowMs: number;
  upcoming: StatusPageRow[];
  recent: StatusPageRow[];
  fires: FireSample[];
  /** Shown as a banner when set (e.g. the database did not answer, so the tables are empty). */
  problem?: string | null;
  /** Daemon summary line (id, mode). */
  daemon: { id: string; mode: string; venues: string[] };
}

/** Escapes text for HTML element content and double-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** "Ada L." — first name and the last name's initial: enough to tell bookings apart on a shared screen. */
function personLabel(row: StatusPageRow): string {
  const initial = [...row.lastName.trim()][0];
  return initial ? `${row.firstName} ${initial}.` : row.firstName;
}

/** `3d 04:05:06`-style rest until `atMs` from `nowMs` (the script keeps it ticking). */
export function formatCountdown(untilMs: number): string {
  if (untilMs <= 0) return 'released';
  const totalS = Math.floor(untilMs / 1000);
  const days = Math.floor(totalS / 86_400);
  const pad = (n: number) => String(n).padStart(2, '0');
  const hms = `${pad(Math.floor((totalS % 86_400) / 3600))}:${pad(Math.floor((totalS % 3600) / 60))}:${pad(totalS % 60)}`;
  return days > 0 ? `${days}d ${hms}` : hms;
}

function slotCell(row: StatusPageRow): string {
  return escapeHtml(`${row.venue} ${row.targetDate} ${row.targetTime}`);
}

function upcomingTable(data: StatusPageData): string {
  if (data.upcoming.length === 0) return '<p class="empty">No reservations waiting for a release.</p>';
  const rows = data.upcoming.map((r) => {
    const release = r.releaseAt
      ? `<td><time datetime="${r.releaseAt.toISOString()}">${escapeHtml(r.releaseAt.toISOString().replace('T', ' ').slice(0, 19))}Z</time></td><td class="countdown" data-release-at="${r.releaseAt.getTime()}">${formatCountdown(r.releaseAt.getTime() - data.nowMs)}</td>`
      : '<td>not scheduled yet</td><td></td>';
    return `<tr><td>#${r.id}</td><td>${escapeHtml(personLabel(r))}</td><td>${slotCell(r)}</td><td>courts ${escapeHtml(r.courts.join(', '))}</td><td class="status">${escapeHtml(r.status)}</td>${release}</tr>`;
  });
  return `<table id="upcoming"><thead><tr><th>id</th><th>for</th><th>slot</th><th>courts</th><th>status</th><th>release (UTC)</th><th>in</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function recentTable(data: StatusPageData): string {
  if (data.recent.length === 0) return '<p class="empty">No finished reservations yet.</p>';
  const rows = data.recent.map((r) => {
    const detail = r.status === 'succeeded' ? `court ${r.bookedCourt ?? '?'}, confirmation <code>${escapeHtml(r.confirmationCode ?? '')}</code>` : escapeHtml(withoutContacts(r.reason ?? ''));
    return `<tr class="${r.status === 'succeeded' ? 'ok' : 'bad'}"><td>#${r.id}</td><td>${escapeHtml(personLabel(r))}</td><td>${slotCell(r)}</td><td class="status">${escapeHtml(r.status)}</td><td>${detail}</td></tr>`;
  });
  return `<table id="recent"><thead><tr><th>id</th><th>for</th><th>slot</th><th>status</th><th>confirmation or reason</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Bar chart of fire lags, ms: one bar per fire (oldest left), a zero line, and the largest lag labelled. */
export function fireLagChart(fires: FireSample[]): string {
  if (fires.length === 0) return '<p class="empty">No fires yet.</p>';
  const width = 640;
  const height = 160;
  const pad = 28;
  const maxAbs = Math.max(1, ...fires.map((f) => Math.abs(f.lagMs)));
  const anyEarly = fires.some((f) => f.lagMs < 0);
  const zeroY = anyEarly ? pad + (height - 2 * pad) / 2 : height - pad;
  const scale = (anyEarly ? (height - 2 * pad) / 2 : height - 2 * pad) / maxAbs;
  const step = (width - 2 * pad) / fires.length;
  const bars = fires.map((f, i) => {
    const h = Math.max(1, Math.abs(f.lagMs) * scale);
    const y = f.lagMs >= 0 ? zeroY - h : zeroY;
    const x = pad + i * step + step * 0.1;
    // With few bars each carries its value; with many the tooltip does.
    const value = fires.length <= 20 ? `<text x="${(x + step * 0.4).toFixed(1)}" y="${(f.lagMs >= 0 ? y - 3 : y + h + 11).toFixed(1)}" text-anchor="middle" class="value">${f.lagMs}</text>` : '';
    return `${value}<rect x="${(pad + i * step + step * 0.1).toFixed(1)}" y="${y.toFixed(1)}" width="${(step * 0.8).toFixed(1)}" height="${h.toFixed(1)}" class="${f.lagMs > 50 ? 'late' : 'bar'}"><title>#${f.reservationId} ${escapeHtml(f.venue)}: ${f.lagMs} ms</title></rect>`;
  });
  return `<svg id="fire-lags" role="img" aria-label="Recent fire lags in ms" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">
<line x1="${pad}" y1="${zeroY}" x2="${width - pad}" y2="${zeroY}" class="axis"/>
<text x="${pad}" y="14" class="label">max |lag| ${maxAbs} ms over the last ${fires.length} fire(s), oldest left</text>
${bars.join('\n')}</svg>`;
}

const STYLE = `body{font:15px/1.4 system-ui,sans-serif;margin:2rem;color:#1d232a;background:#f7f8fa}h1{margin:0 0 .3rem}h2{margin-top:2rem}
table{border-collapse:collapse;width:100%;background:#fff}th,td{padding:.35rem .6rem;border-bottom:1px solid #e3e6ea;text-align:left}
th{background:#eef1f4}.countdown{font-variant-numeric:tabular-nums;font-weight:600}tr.ok .status{color:#17743a}tr.bad .status{color:#a3261b}
.empty{color:#6b7480}.meta{color:#6b7480}svg{background:#fff;border:1px solid #e3e6ea}.bar{fill:#3b7dd8}.late{fill:#d8573b}.axis{stroke:#888}.label{font-size:12px;fill:#444}.value{font-size:11px;fill:#333}.problem{background:#fdecea;color:#a3261b;padding:.6rem .8rem;border-radius:4px}`;

/** Keeps the countdowns ticking in the browser (1 s steps from the page's render instant). */
const COUNTDOWN_SCRIPT = `(function(){var start=Date.now(),base=Number(document.body.dataset.now);function pad(n){return String(n).padStart(2,'0')}
function fmt(ms){if(ms<=0)return 'released';var s=Math.floor(ms/1000),d=Math.floor(s/86400),t=pad(Math.floor(s%86400/3600))+':'+pad(Math.floor(s%3600/60))+':'+pad(s%60);return d>0?d+'d '+t:t}
function tick(){var now=base+(Date.now()-start);document.querySelectorAll('[data-release-at]').forEach(function(el){el.textContent=fmt(Number(el.dataset.releaseAt)-now)})}
setInterval(tick,1000)})();`;

/** Renders the whole page (a complete HTML document). */
export function renderStatusPage(data: StatusPageData): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reservd status</title><meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body data-now="${data.nowMs}">
<h1>reservd</h1>
<p class="meta">daemon ${escapeHtml(data.daemon.id)} · mode ${escapeHtml(data.daemon.mode)} · venues ${escapeHtml(data.daemon.venues.join(', '))} · rendered ${new Date(data.nowMs).toISOString()}</p>
${data.problem ? `<p class="problem" role="alert">${escapeHtml(data.problem)}</p>` : ''}
<h2>Upcoming releases</h2>
${upcomingTable(data)}
<h2>Recent outcomes</h2>
${recentTable(data)}
<h2>Recent fire lags</h2>
${fireLagChart(data.fires)}
<script>${COUNTDOWN_SCRIPT}</script>
</body></html>`;
}
