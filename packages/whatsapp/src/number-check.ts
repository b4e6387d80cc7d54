import { isWabridgeError } from '@wabridge/core';
import type { CloudApiClient, PhoneNumberProfile, SubscribedApp } from './cloud-api-client.ts';

/** What "Test" shows for a number: its profile and whether its WABA sends webhooks to its app. */
export interface NumberCheck {
  phoneNumberId: string;
  /** The number's profile, or why it could not be read (one line, e.g. a rejected token). */
  profile: { ok: true; value: PhoneNumberProfile } | { ok: false; error: string };
  /** The WABA's subscribed apps and whether the number's app is one of them; null without a WABA id. */
  subscription:
    | { ok: true; wabaId: string; apps: SubscribedApp[]; subscribed: boolean | null }
    | { ok: false; wabaId: string; error: string }
    | null;
}

/**
 * Reads the number's profile and quality rating and its WABA's webhook subscription with the
 * number's own client. `appId` is the app that should be subscribed (null when unknown: the
 * environment's app, whose id wabridge is not told).
 */
export async function checkNumber(
  client: CloudApiClient,
  number: { phoneNumberId: string; wabaId: string | null; appId: string | null },
  signal?: AbortSignal,
): Promise<NumberCheck> {
  const options = signal ? { signal } : {};
  const [profile, subscription] = await Promise.all([
    client.getPhoneNumber(number.phoneNumberId, options).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error: oneLine(error) }),
    ),
    number.wabaId === null
      ? Promise.resolve(null)
      : client.listSubscribedApps(number.wabaId, options).then(
          (apps) => ({
            ok: true as const,
            wabaId: number.wabaId as string,
            apps,
            subscribed: number.appId === null ? null : apps.some((a) => a.appId === number.appId),
          }),
          (error: unknown) => ({
            ok: false as const,
            wabaId: number.wabaId as string,
            error: oneLine(error),
          }),
        ),
  ]);
  return { phoneNumberId: number.phoneNumberId, profile, subscription };
}

function oneLine(error: unknown): string {
  const message = isWabridgeError(error) || error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}
