import { describe, expect, it } from 'vitest';
import { consentScopeWords, consentSourceWords } from './consent-wording.ts';

describe('consent wording', () => {
  const names = (id: string) => ({ hubspot: 'HubSpot' })[id];

  it("words the bridge's own sources without help", () => {
    expect(consentSourceWords('keyword')).toBe('by replying with an opt-out keyword');
    expect(consentSourceWords('admin', names)).toBe('by an administrator');
  });

  it("names a connector's platform only through the names it is given", () => {
    expect(consentSourceWords('hubspot', names)).toBe('in HubSpot');
    expect(consentSourceWords('hubspot')).toBeNull();
    expect(consentSourceWords('zendesk', names)).toBeNull();
  });

  it('words the scope', () => {
    expect(consentScopeWords('all')).toBe('all WhatsApp messages');
    expect(consentScopeWords('marketing')).toBe('marketing messages');
  });
});
