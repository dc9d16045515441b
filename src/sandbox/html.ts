/**
 * Tiny HTML helpers for the sandbox pages: escaping and the page frame. Pages stay minimal but real
 * (doctype, `<title>`, `<main>`, labelled inputs) so a browser renders them as a person would see them.
 */

/** Escapes text for an HTML text node or a double-quoted attribute. */
export function esc(value: string | number): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** A whole HTML document with `title` (escaped) and `body` (raw HTML, already escaped by the caller). */
export function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

/** The page every public URL shows while the site blocks us (`control.blocked`). */
export function blockedPage(): string {
  return page(
    'Access denied',
    `<section class="blocked"><h1>Access denied</h1>
<p>We have detected unusual traffic from your network. Please try again later.</p></section>`,
  );
}

/** 404 page. */
export function notFoundPage(what: string): string {
  return page('Not found', `<section class="not-found"><h1>Not found</h1><p>${esc(what)}</p></section>`);
}
