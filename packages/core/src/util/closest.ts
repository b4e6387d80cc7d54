/**
 * The candidate nearest to a mistyped name, or null when none is near enough to be a likely typo:
 * for "did you mean …?" in command lines and configuration errors.
 *
 * @example closest('craete', ['create', 'list']) // 'create'
 */
export function closest(name: string, candidates: Iterable<string>): string | null {
  const typed = name.toLowerCase();
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const lower = candidate.toLowerCase();
    // A case slip (defaultchannel) or a shortened name (work → workspace) is as near as it gets.
    const distance =
      lower === typed ? 0 : lower.startsWith(typed) && typed.length >= 3 ? 1 : editDistance(typed, lower);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Up to a third of the name may be wrong (two edits at least): beyond that, a suggestion misleads.
  return best !== null && bestDistance <= Math.max(2, Math.floor(typed.length / 3)) ? best : null;
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit (`craete` → `create`). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i] as number[];
      const above = d[i - 1] as number[];
      let value = Math.min(
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (above[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        value = Math.min(value, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = value;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}
