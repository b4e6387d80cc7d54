import type { ConsentCategory, ConsentSource } from '../domain/types.ts';

/**
 * The words for a consent change, the same in every place agents read them: the core's "not sent"
 * notices and each connector's line in the thread. Each connector adds its own markup around them.
 */
const SOURCE_WORDS: Record<string, string> = {
  keyword: 'by replying with an opt-out keyword',
  meta_preference: 'in WhatsApp',
  admin: 'by an administrator',
  api: 'through the API',
  platform_error: 'as reported by WhatsApp',
};

/**
 * How the consent changed (`in WhatsApp`, `by an administrator` …). A source that is not the
 * bridge's own is the connector whose platform recorded it: `in <its name>` when `platformName`
 * knows it; null otherwise.
 */
export function consentSourceWords(
  source: ConsentSource,
  platformName?: (connectorId: string) => string | undefined,
): string | null {
  if (Object.hasOwn(SOURCE_WORDS, source)) return SOURCE_WORDS[source] ?? null;
  const platform = platformName?.(source);
  return platform ? `in ${platform}` : null;
}

/** What the consent covers: `all WhatsApp messages` or `marketing messages`. */
export function consentScopeWords(category: ConsentCategory): string {
  return category === 'all' ? 'all WhatsApp messages' : 'marketing messages';
}
