import { describe, expect, it } from 'vitest';
import { callingCode, phoneKey, phoneMatch } from './phone.ts';

describe('phone numbers as HubSpot searches them', () => {
  it('splits a WhatsApp id into calling code and national number', () => {
    expect(phoneKey('15550201001')).toEqual({ international: '15550201001', national: '5550201001' });
    expect(phoneKey('442079460018')).toEqual({ international: '442079460018', national: '2079460018' });
    expect(phoneKey('351912345678')).toEqual({ international: '351912345678', national: '912345678' });
    expect(phoneKey(null)).toBeNull();
    expect(callingCode('79161234567')).toBe('7');
    expect(callingCode('5511987654321')).toBe('55');
    expect(callingCode('971501234567')).toBe('971');
  });

  it('confirms the country when the stored number has one, and accepts a bare national number', () => {
    const key = phoneKey('15550201006');
    if (!key) throw new Error('expected a key');
    expect(phoneMatch('+1 (555) 020-1006', '5550201006', key)).toBe(2);
    expect(phoneMatch('0015550201006', '5550201006', key)).toBe(2);
    expect(phoneMatch('555-020-1006', '5550201006', key)).toBe(1);
    expect(phoneMatch('+44 555 020 1006', '5550201006', key)).toBe(0);
    expect(phoneMatch('+1 555 020 1007', '5550201007', key)).toBe(0);
    expect(phoneMatch(null, '5550201006', key)).toBe(0);
  });
});
