/**
 * Output of the CLI commands: where they write (stdout/stderr, or a capture in tests), JSON and tables, and
 * the exit codes they resolve to (README "Using the CLI"; sysexits.h numbers where one fits).
 */

/** Where a command writes: `write` its result (stdout), `error` its complaints (stderr). */
export interface Output {
  write(text: string): void;
  error(text: string): void;
}

/** Success. */
export const EXIT_OK = 0;
/** Invalid input: a flag or row the validation or the database's guards refuse (EX_DATAERR). */
export const EXIT_BAD_INPUT = 65;
/** No reservation has the id given (EX_NOINPUT). */
export const EXIT_NOT_FOUND = 66;
/** A program or service the command needs is missing (`psql` not installed, the database not reachable) (EX_UNAVAILABLE). */
export const EXIT_UNAVAILABLE = 69;

/** The process's stdout and stderr. */
export const processOutput: Output = {
  write: (text) => void process.stdout.write(text),
  error: (text) => void process.stderr.write(text),
};

/** Writes `value` as one line of JSON (instants as ISO 8601 UTC). @returns {@link EXIT_OK}. */
export function printJson(out: Output, value: unknown): number {
  out.write(`${JSON.stringify(value)}\n`);
  return EXIT_OK;
}

/** A left-aligned text table: the header, a rule, the rows; columns two spaces apart; trailing blanks trimmed. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  // A loop, not Math.max(...): a spread of 125 000 rows overflows the call stack.
  const widths = header.map((name, i) => rows.reduce((w, row) => Math.max(w, (row[i] ?? '').length), name.length));
  const line = (cells: readonly string[]): string => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return `${[line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')}\n`;
}
