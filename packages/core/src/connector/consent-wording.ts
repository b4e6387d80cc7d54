import type { ConsentCategory, ConsentSource } from '../domain/types.ts';

/**
 * The words for a consent change, the same in every place agents read them: the core's "not sent"
 * notices and each connector's line in the thread. Each connector adds its own markup around them.
 */
const SOURCE_WORDS: Record<ConsentSource, string> = {
  keyword: 'by replying with an opt-out keyword',
  meta_preference: 'in WhatsApp',
  hubspot: 'in HubSpot',
  admin: 'by an administrator',
  api: 'through the API',
  platform_error: 'as reported by WhatsApp',
};

/** How the consent changed (`in WhatsApp`, `by an administrator` …); null for an unknown source. */
export function consentSourceWords(source: string): string | null {
  return Object.hasOwn(SOURCE_WORDS, source) ? SOURCE_WORDS[source as ConsentSource] : null;
}

/** What the consent covers: `all WhatsApp messages` or `marketing messages`. */
export function consentScopeWords(category: ConsentCategory): string {
  return category === 'all' ? 'all WhatsApp messages' : 'marketing messages';
}
