import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { APPOINTMENTS_PATH } from './appointments-path.js';
import type { SpaSwitches } from './switches.js';

/**
 * The hostile-site switches' answers (docs/acuity-site.md "Hostile answers"): oversized JSON, redirects to
 * another origin, pages that never finish loading, HTML that is not the scheduler, confirmations of something
 * else. None is known behaviour of the real site; each is a fault reservd must survive.
 */

/** Path of the availability XHR. */
const TIMES_PATH = '/api/scheduling/v1/availability/times';

/** One shared block of padding (spaces), so an oversized answer costs the site no copy per answer. */
let padding: Buffer = Buffer.alloc(0);

/** `bytes` of leading whitespace (valid before any JSON value), from the shared block. */
function paddingOf(bytes: number): Buffer {
  if (padding.length < bytes) padding = Buffer.alloc(bytes, 0x20);
  return padding.subarray(0, bytes);
}

/**
 * Sends `body` as JSON with `status`, padded in front with whitespace up to `bytes` in all (still valid JSON),
 * streamed with its `content-length`.
 */
export function sendPaddedJson(reply: FastifyReply, status: number, body: unknown, bytes: number): FastifyReply {
  const json = Buffer.from(JSON.stringify(body));
  const pad = paddingOf(Math.max(0, bytes - json.length));
  return reply.code(status).type('application/json; charset=utf-8').header('content-length', String(pad.length + json.length)).send(Readable.from([pad, json]));
}

/** Where the `redirect` switch sends `request`, or null when it does not apply to it. */
export function redirectOf(sw: SpaSwitches, request: Pick<FastifyRequest, 'method' | 'url'>): { status: number; location: string } | null {
  const r = sw.redirect;
  if (r === null) return null;
  const path = request.url.split('?')[0];
  const hit =
    (r.target === 'page' && request.method === 'GET' && (path?.startsWith('/schedule/') ?? false)) ||
    (r.target === 'times' && path === TIMES_PATH) ||
    (r.target === 'booking' && request.method === 'POST' && path === APPOINTMENTS_PATH);
  // 307 keeps a POST a POST with its body: the case where following the redirect would post the user's data elsewhere.
  return hit ? { status: r.target === 'booking' ? 307 : 302, location: `${r.to}${request.url}` } : null;
}

/**
 * Answers `reply` with the head of `html` (up to its `<body>`) and then nothing: the document never finishes
 * until the browser leaves or the site stops (`stop`). Resolves when the socket closes.
 */
export async function hangDocument(reply: FastifyReply, html: string, stop: AbortSignal): Promise<void> {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
  raw.write(html.slice(0, html.indexOf('<body>')));
  await hangUntilClosed(reply, stop);
}

/** Waits until the request's socket closes or `stop` aborts (then destroys the socket). Never answers. */
export async function hangUntilClosed(reply: FastifyReply, stop: AbortSignal): Promise<void> {
  const socket = reply.raw.socket;
  if (!socket || socket.destroyed) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      stop.removeEventListener('abort', done);
      socket.destroy();
      resolve();
    };
    socket.once('close', done);
    stop.addEventListener('abort', done, { once: true });
  });
}

/** A page that answers 200 but is not the scheduler: a login wall or a maintenance notice (no `#secondo-container`). */
export function notSchedulerPage(kind: 'login' | 'maintenance'): string {
  const [title, body] = kind === 'login'
    ? ['Iniciar sesión', '<form method="post" action="/login"><label>Correo <input name="email" type="email"></label><label>Contraseña <input name="password" type="password"></label><button>Entrar</button></form>']
    : ['Mantenimiento', '<h1>Estamos en mantenimiento</h1><p>Vuelve a intentarlo más tarde.</p>'];
  return `<!DOCTYPE html>\n<html lang="es">\n<head><meta charset="utf-8"><title>${title}</title></head>\n<body>${body}</body>\n</html>\n`;
}

/** Another client, as a hostile confirmation names it. */
const OTHER_CLIENT = { firstName: 'Mallory', lastName: 'Otro', email: 'mallory@example.test', phone: '+502 5000 0000' };

/**
 * `json` (an appointment as answered) as the `misconfirm` switch distorts it `where` (`answer` of the POST,
 * `lookup` by hash): another slot (one `slotLengthS` later or earlier) or another client. Unchanged otherwise.
 */
export function misconfirmed(json: Record<string, unknown>, sw: SpaSwitches, where: 'answer' | 'lookup', slotLengthS: number): Record<string, unknown> {
  const shiftTime = (deltaS: number): string => {
    const [h, m] = String(json.time).split(':').map(Number) as [number, number];
    const minutes = (h * 60 + m + deltaS / 60 + 24 * 60) % (24 * 60);
    return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
  };
  if (where === 'answer' && sw.misconfirm === 'answerOtherSlot') return { ...json, time: shiftTime(slotLengthS) };
  if (where === 'answer' && sw.misconfirm === 'answerOtherClient') return { ...json, ...OTHER_CLIENT };
  if (where === 'lookup' && sw.misconfirm === 'lookupOtherSlot') return { ...json, time: shiftTime(-slotLengthS) };
  return json;
}
