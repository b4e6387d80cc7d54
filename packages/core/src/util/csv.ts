/** One CSV line (RFC 4180): fields with a comma, quote or line break are quoted, quotes doubled. */
export function csvLine(fields: ReadonlyArray<string | number | null | undefined>): string {
  return `${fields
    .map((field) => {
      const text = field === null || field === undefined ? '' : String(field);
      // A leading =, +, - or @ makes spreadsheets run the cell as a formula (CSV injection): quoted
      // with a leading apostrophe it stays text.
      const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
      return /[",\r\n]/.test(safe) || safe !== text ? `"${safe.replaceAll('"', '""')}"` : safe;
    })
    .join(',')}\r\n`;
}
