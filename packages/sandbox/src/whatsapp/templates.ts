/**
 * Approved message templates: lookup by (name, language), the parameter-count rule (132000), the
 * does-not-exist rule (132001), rendering with parameters, and the listing returned by
 * `GET /{version}/{waba-id}/message_templates` (shape of the vendored spec's example response).
 *
 * Placeholders are positional (`{{1}}`, `{{2}}` …) or named (`{{first_name}}`, matched by the send
 * parameter's `parameter_name`).
 */
import { MetaApiError } from './errors.ts';
import { newNumericId } from './wire.ts';

export type TemplateCategory = 'MARKETING' | 'UTILITY' | 'AUTHENTICATION';

export interface WhatsAppTemplate {
  name: string;
  /** Locale code, e.g. `en_US` (default). */
  language?: string;
  /** Default `UTILITY`. MARKETING templates are refused to users who stopped marketing (131050). */
  category?: TemplateCategory;
  /** Body text with `{{n}}` or `{{name}}` placeholders. */
  body: string;
  /** Optional text header (may hold one placeholder). */
  header?: string;
  footer?: string;
  /** Quick-reply button labels. */
  quickReplies?: string[];
  /** Only APPROVED templates can be sent (default APPROVED). */
  status?: 'APPROVED' | 'PENDING' | 'REJECTED' | 'PAUSED';
  /** Graph id (generated when absent). */
  id?: string;
}

export interface ResolvedTemplate
  extends Required<Omit<WhatsAppTemplate, 'header' | 'footer' | 'quickReplies'>> {
  header: string | undefined;
  footer: string | undefined;
  quickReplies: string[];
}

/** What an accepted template send resolved to (recorded in the ledger). */
export interface RenderedTemplate {
  name: string;
  language: string;
  category: TemplateCategory;
  /** Body parameter values in order. */
  params: string[];
  headerParams: string[];
  /** Body text with the parameters substituted. */
  rendered: string;
}

/** Meta's sandbox numbers come with `hello_world`; so does the emulator unless `templates` is given. */
export const DEFAULT_TEMPLATES: readonly WhatsAppTemplate[] = [
  {
    name: 'hello_world',
    language: 'en_US',
    category: 'UTILITY',
    header: 'Hello World',
    body: 'Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us.',
    footer: 'WhatsApp Business Platform sample message',
  },
];

const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/** Distinct placeholders in order of first appearance. */
export function placeholdersOf(text: string | undefined): string[] {
  if (text === undefined) return [];
  const seen: string[] = [];
  for (const match of text.matchAll(PLACEHOLDER)) {
    const key = match[1] ?? '';
    if (!seen.includes(key)) seen.push(key);
  }
  return seen;
}

export class TemplateRegistry {
  readonly #templates = new Map<string, ResolvedTemplate>();

  constructor(templates: readonly WhatsAppTemplate[]) {
    for (const template of templates) this.add(template);
  }

  /** Adds or replaces a template (keyed by name and language). */
  add(template: WhatsAppTemplate): ResolvedTemplate {
    const resolved: ResolvedTemplate = {
      name: template.name,
      language: template.language ?? 'en_US',
      category: template.category ?? 'UTILITY',
      body: template.body,
      header: template.header,
      footer: template.footer,
      quickReplies: template.quickReplies ?? [],
      status: template.status ?? 'APPROVED',
      id: template.id ?? newNumericId(),
    };
    this.#templates.set(`${resolved.name}\u0000${resolved.language}`, resolved);
    return resolved;
  }

  list(): ResolvedTemplate[] {
    return [...this.#templates.values()];
  }

  /**
   * Checks a send's `template` object against the registry and renders it.
   * Throws `MetaApiError` 132001 (unknown / not approved in that language) or 132000 (parameter count).
   */
  render(template: SendTemplateObject): RenderedTemplate {
    const language = template.language?.code ?? '';
    const found = this.#templates.get(`${template.name}\u0000${language}`);
    if (found === undefined || found.status !== 'APPROVED') {
      throw new MetaApiError(132001, {
        details: `template name (${template.name}) does not exist in ${language}`,
      });
    }
    const components = template.components ?? [];
    const paramsOf = (type: string) =>
      components.filter((c) => c.type?.toLowerCase() === type).flatMap((c) => c.parameters ?? []);
    const body = paramsOf('body');
    const header = paramsOf('header').filter((p) => p.type === 'text');

    const check = (where: string, text: string | undefined, given: SendParameter[]) => {
      const expected = placeholdersOf(text).length;
      if (given.length !== expected) {
        throw new MetaApiError(132000, {
          details: `${where}: number of localizable_params (${given.length}) does not match the expected number of params (${expected})`,
        });
      }
    };
    check('header', found.header, header);
    check('body', found.body, body);

    const bodyValues = body.map(parameterText);
    return {
      name: found.name,
      language: found.language,
      category: found.category,
      params: bodyValues,
      headerParams: header.map(parameterText),
      rendered: substitute(found.body, body),
    };
  }

  /** Listing in the shape of the spec's `message_templates` example response. */
  toGraph(template: ResolvedTemplate): Record<string, unknown> {
    const components: Array<Record<string, unknown>> = [];
    if (template.header !== undefined)
      components.push({ type: 'HEADER', format: 'TEXT', text: template.header });
    const bodyParams = placeholdersOf(template.body);
    components.push({
      type: 'BODY',
      text: template.body,
      ...(bodyParams.length > 0 ? { example: { body_text: [bodyParams.map((p) => `example_${p}`)] } } : {}),
    });
    if (template.footer !== undefined) components.push({ type: 'FOOTER', text: template.footer });
    if (template.quickReplies.length > 0) {
      components.push({
        type: 'BUTTONS',
        buttons: template.quickReplies.map((text) => ({ type: 'QUICK_REPLY', text })),
      });
    }
    return {
      name: template.name,
      components,
      language: template.language,
      status: template.status,
      category: template.category,
      id: template.id,
    };
  }
}

/** The `template` object of a send request (after spec validation). */
export interface SendTemplateObject {
  name: string;
  language?: { code?: string; policy?: string };
  components?: Array<{
    type?: string;
    sub_type?: string;
    index?: string | number;
    parameters?: SendParameter[];
  }>;
}

export interface SendParameter {
  type?: string;
  text?: string;
  parameter_name?: string;
  payload?: string;
  currency?: { fallback_value?: string };
  date_time?: { fallback_value?: string };
}

function parameterText(parameter: SendParameter): string {
  return (
    parameter.text ??
    parameter.currency?.fallback_value ??
    parameter.date_time?.fallback_value ??
    parameter.payload ??
    ''
  );
}

function substitute(text: string, parameters: SendParameter[]): string {
  const named = new Map(
    parameters.filter((p) => p.parameter_name !== undefined).map((p) => [p.parameter_name, p]),
  );
  return text.replace(PLACEHOLDER, (whole, key: string) => {
    const parameter = /^\d+$/.test(key) ? parameters[Number(key) - 1] : named.get(key);
    return parameter === undefined ? whole : parameterText(parameter);
  });
}
