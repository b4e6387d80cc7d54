import { describe, expect, it } from 'vitest';
import { loadOpenApiSpec } from '../shared/openapi.ts';
import { loadWhatsAppSpec, OPERATIONS, WHATSAPP_SPEC_FILE, WHATSAPP_SPEC_PATCHES } from './spec.ts';

// Parsed once per process (the 1 MB YAML), then schemas compile lazily. The load and compile
// times are measured and written in the README, not asserted: on a busy CI machine any budget
// either fails for no reason or is too loose to mean anything.
const spec = loadWhatsAppSpec();

/** Send examples that are not valid requests, and why. */
const NOT_VALID_SENDS: Record<string, string> = {
  'Send Audio Message by URL': 'placeholder link <http(s)://audio-url>',
  'Send Reply to Audio Message by URL': 'placeholder link',
  'Send Document Message by URL': 'placeholder link',
  'Send Reply to Document Message by URL': 'placeholder link',
  'Send Image Message by URL': 'placeholder link',
  'Send Reply to Image Message by URL': 'placeholder link',
  'Send Video Message by URL': 'placeholder link',
  'Send Reply to Video Message by URL': 'placeholder link',
  'Send Message Template Interactive': 'placeholder link http(s)://the-image-url',
  'Send Message Template Media': 'placeholder link',
  'Send Multi-Product Message': 'placeholder header type <HEADER_TYPE>',
  'Send Order Details Message': 'payments (order_details) are not in the spec schema',
  'Send Order Status Message': 'payments (order_status) are not in the spec schema',
  'Send Reply to List Message': 'no `type`, and the default type (text) does not fit an interactive body',
  'Send Sample Issue Resolution Template': 'button parameters with boolean `text`',
  'Send typing indicator and read receipt':
    'mark-as-read: validated against MarkMessageRequestPayload instead',
};

describe('the vendored Meta spec, as patched for the emulator', () => {
  it('is parsed once per process and compiles a schema only when a validation first needs it', () => {
    expect(loadWhatsAppSpec()).toBe(spec);
    const before = spec.timings.compiled;
    spec.validateRequestBody('POST', OPERATIONS.sendMessage, 'application/json', {});
    spec.validateSchema('WebhookPayload', {});
    const after = spec.timings.compiled;
    expect(after).toBeGreaterThan(before);
    spec.validateRequestBody('POST', OPERATIONS.sendMessage, 'application/json', {});
    spec.validateSchema('WebhookPayload', {});
    expect(spec.timings.compiled).toBe(after);
  });

  it('every patch still applies and is still needed: unpatched, Meta’s own webhook examples fail', () => {
    expect(WHATSAPP_SPEC_PATCHES.map((p) => p.id)).toHaveLength(
      new Set(WHATSAPP_SPEC_PATCHES.map((p) => p.id)).size,
    );
    const raw = loadOpenApiSpec(WHATSAPP_SPEC_FILE);
    const text = spec.requestBodyExamples('POST', OPERATIONS.webhook)['Text Message'];
    expect(raw.validateSchema('WebhookPayload', text).ok).toBe(false);
    expect(spec.validateSchema('WebhookPayload', text).ok).toBe(true);
  });

  it('accepts every send example of the spec except the listed invalid ones', () => {
    const examples = spec.requestBodyExamples('POST', OPERATIONS.sendMessage);
    expect(Object.keys(examples).length).toBeGreaterThan(40);
    const failures: string[] = [];
    for (const [name, example] of Object.entries(examples)) {
      if (name in NOT_VALID_SENDS) continue;
      const body = { type: 'text', ...(example as object) }; // Meta's default type, as the emulator applies it
      const result = spec.validateRequestBody('POST', OPERATIONS.sendMessage, 'application/json', body);
      if (!result.ok) failures.push(`${name}: ${result.errors.join('; ')}`);
    }
    expect(failures).toEqual([]);
  });

  it('the listed send examples are indeed rejected (so the list stays honest)', () => {
    const examples = spec.requestBodyExamples('POST', OPERATIONS.sendMessage);
    for (const name of Object.keys(NOT_VALID_SENDS)) {
      const example = examples[name];
      expect(example, name).toBeDefined();
      expect(
        spec.validateRequestBody('POST', OPERATIONS.sendMessage, 'application/json', example).ok,
        name,
      ).toBe(false);
    }
  });

  it('validates the mark-as-read example against MarkMessageRequestPayload', () => {
    const example = spec.requestBodyExamples('POST', OPERATIONS.sendMessage)[
      'Send typing indicator and read receipt'
    ];
    expect(spec.validateSchema('MarkMessageRequestPayload', example)).toEqual({ ok: true, errors: [] });
  });

  it('accepts every message-field webhook example of the spec (groups are not emulated)', () => {
    const examples = spec.requestBodyExamples('POST', OPERATIONS.webhook);
    const failures = Object.entries(examples)
      .filter(([name]) => !name.startsWith('Group'))
      .map(([name, example]) => [name, spec.validateSchema('WebhookPayload', example)] as const)
      .filter(([, result]) => !result.ok)
      .map(([name, result]) => `${name}: ${result.errors.join('; ')}`);
    expect(failures).toEqual([]);
  });

  it('rejects a malformed send with readable messages about the mapped message type only', () => {
    const result = spec.validateRequestBody('POST', OPERATIONS.sendMessage, 'application/json', {
      messaging_product: 'whatsapp',
      to: '1',
      type: 'image',
      image: { id: '1', link: 'https://example.com/a.jpg' },
      colour: 'red',
    });
    expect(result.ok).toBe(false);
    expect(result.errors).toContain("(root) has unknown property 'colour'");
    expect(result.errors.join('\n')).toContain('/image must match exactly one of the alternatives');
    expect(result.errors.join('\n')).not.toContain('/text');
  });
});
