import type { Contact, Conversation } from '@wabridge/core';
import type { SlackConfig } from '../config.ts';

const digits = (value: string | null | undefined): string => (value ?? '').replace(/\D/g, '');

/** Tags a customer carries by the workspace's `tags` config (number or prefix lists). */
export function tagsOf(config: Pick<SlackConfig, 'tags'>, contact: Contact): string[] {
  const customer = digits(contact.waId);
  if (!customer) return [];
  return Object.entries(config.tags)
    .filter(([, numbers]) => numbers.some((n) => digits(n) !== '' && customer.startsWith(digits(n))))
    .map(([tag]) => tag);
}

/**
 * The channel a new conversation thread goes to: the first route whose every condition matches,
 * else the default channel. Decided once; the thread stays where it was created.
 */
export function chooseChannel(
  config: Pick<SlackConfig, 'routes' | 'tags' | 'defaultChannel'>,
  conversation: Conversation,
  contact: Contact,
): string {
  const business = new Set(
    [conversation.phoneNumberId, digits(conversation.displayPhoneNumber)].filter(Boolean),
  );
  const customer = digits(contact.waId);
  const tags = tagsOf(config, contact);
  for (const route of config.routes) {
    if (
      route.businessNumber &&
      !business.has(route.businessNumber) &&
      !business.has(digits(route.businessNumber))
    )
      continue;
    if (route.customerPrefix && !(customer !== '' && customer.startsWith(digits(route.customerPrefix))))
      continue;
    if (route.tag && !tags.includes(route.tag)) continue;
    return route.channel;
  }
  return config.defaultChannel;
}
