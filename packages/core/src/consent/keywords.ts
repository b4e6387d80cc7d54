import type { ConsentState, OptOutKeywords } from '../domain/types.ts';

/** Folds case, accents and punctuation so "STOP!", "Stop." and "stöp" compare alike. */
export function normaliseKeyword(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/\p{Diacritic}/gu, '')
    .toLowerCase()
    .replace(/[^\p{Letter}\p{Number}\s]/gu, '')
    .replace(/\s+/g, ' ')
    .trim();
}

/**
 * Compiles a workspace's keyword lists into a matcher. A message counts only when its whole text
 * is a keyword: "please stop calling me at work" is a conversation, not an opt-out.
 */
export function keywordMatcher(
  lists: Record<string, OptOutKeywords>,
): (text: string | null) => ConsentState | null {
  const stop = new Set<string>();
  const start = new Set<string>();
  for (const list of Object.values(lists)) {
    for (const word of list.stop) stop.add(normaliseKeyword(word));
    for (const word of list.start) start.add(normaliseKeyword(word));
  }
  return (text) => {
    if (!text || text.length > 64) return null;
    const folded = normaliseKeyword(text);
    if (stop.has(folded)) return 'opted_out';
    if (start.has(folded)) return 'opted_in';
    return null;
  };
}
