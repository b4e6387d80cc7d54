/**
 * HubSpot's normalised phone properties, as the emulator computes them.
 *
 * HubSpot keeps, next to the free-text `phone` / `mobilephone` a contact was saved with, the
 * read-only `hs_searchable_calculated_phone_number` / `hs_searchable_calculated_mobile_number`:
 * the national significant number, digits only, without country code or trunk prefix
 * (https://developers.hubspot.com/docs/api-reference/2026-03/crm/search-the-crm). An exact `EQ` on `phone` only matches the text as typed, so clients search
 * the calculated properties.
 *
 * HubSpot derives them with a full phone-number library and the contact's country. The emulator uses
 * a documented approximation that is enough to exercise the client side:
 * - `+<cc>…` or `00<cc>…`: the ITU calling code is removed (codes are prefix-free, see `callingCode`);
 * - otherwise a number is national to the portal's default country: a single trunk `0` is dropped,
 *   and a leading default calling code is dropped when what is left has the default country's
 *   national length (`1 555 020 0001` in a US portal).
 */

/** Calling codes of one and two digits; every other assigned code has three (ITU-T E.164 list). */
const ONE_DIGIT = new Set(['1', '7']);
// biome-ignore format: a table reads better dense
const TWO_DIGITS = new Set([
  '20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45', '46', '47', '48', '49',
  '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63', '64', '65', '66', '81', '82', '84',
  '86', '90', '91', '92', '93', '94', '95', '98',
]);

/** The calling code an international number (digits only, no `+`) starts with. */
export function callingCode(digits: string): string {
  if (ONE_DIGIT.has(digits.slice(0, 1))) return digits.slice(0, 1);
  if (TWO_DIGITS.has(digits.slice(0, 2))) return digits.slice(0, 2);
  return digits.slice(0, 3);
}

export interface PhoneDefaults {
  /** Calling code of the portal's default country (`1` for the US). */
  callingCode: string;
  /** Length of a national number in that country (10 for NANP). */
  nationalLength: number;
}

export const US_DEFAULTS: PhoneDefaults = { callingCode: '1', nationalLength: 10 };

/** The value HubSpot would put in the calculated property for a phone as typed; null when empty. */
export function searchablePhone(
  raw: string | undefined,
  defaults: PhoneDefaults = US_DEFAULTS,
): string | null {
  if (raw === undefined) return null;
  const trimmed = raw.trim();
  const digits = trimmed.replace(/\D/g, '');
  if (digits.length === 0) return null;
  if (trimmed.startsWith('+')) return digits.slice(callingCode(digits).length);
  if (digits.startsWith('00')) {
    const international = digits.slice(2);
    return international.slice(callingCode(international).length);
  }
  if (digits.startsWith('0')) return digits.slice(1);
  if (
    digits.startsWith(defaults.callingCode) &&
    digits.length === defaults.callingCode.length + defaults.nationalLength
  ) {
    return digits.slice(defaults.callingCode.length);
  }
  return digits;
}
