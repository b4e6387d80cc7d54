/**
 * Phone numbers as HubSpot searches them. A WhatsApp id is an international number without `+`
 * (`447946000123`); HubSpot's `hs_searchable_calculated_(phone|mobile)_number` hold the national
 * significant number without the country code (`7946000123`), whatever format the number was typed
 * in (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm). Search on those, then confirm the country from the number as stored
 * when it was stored with one.
 */

/** Calling codes of one and two digits; every other assigned code has three (ITU-T E.164). */
const ONE_DIGIT = new Set(['1', '7']);
// biome-ignore format: a table reads better dense
const TWO_DIGITS = new Set([
  '20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45', '46', '47', '48', '49',
  '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63', '64', '65', '66', '81', '82', '84',
  '86', '90', '91', '92', '93', '94', '95', '98',
]);

export function callingCode(international: string): string {
  if (ONE_DIGIT.has(international.slice(0, 1))) return international.slice(0, 1);
  if (TWO_DIGITS.has(international.slice(0, 2))) return international.slice(0, 2);
  return international.slice(0, 3);
}

export interface PhoneKey {
  /** Digits with country code, as WhatsApp gives them. */
  international: string;
  /** The national significant number HubSpot's calculated properties hold. */
  national: string;
}

export function phoneKey(waId: string | null): PhoneKey | null {
  const international = (waId ?? '').replace(/\D/g, '');
  if (international.length < 6) return null;
  return { international, national: international.slice(callingCode(international).length) };
}

/**
 * How well a HubSpot phone value matches: 2 = same international number, 1 = same national
 * number typed without a country code (the country cannot be confirmed), 0 = no match.
 */
export function phoneMatch(
  stored: string | null | undefined,
  calculated: string | null | undefined,
  key: PhoneKey,
): 0 | 1 | 2 {
  if (!stored || calculated !== key.national) return 0;
  const digits = stored.replace(/\D/g, '');
  const trimmed = stored.trim();
  const international = trimmed.startsWith('+') ? digits : digits.startsWith('00') ? digits.slice(2) : null;
  if (international !== null) return international === key.international ? 2 : 0;
  return 1;
}
