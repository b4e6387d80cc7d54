import { describe, expect, it } from 'vitest';
import { closest } from './closest.ts';

describe('closest', () => {
  it('names the candidate a typo most likely meant: a swap, a slip of case, a shortened name', () => {
    expect(closest('craete', ['create', 'list', 'delete'])).toBe('create');
    expect(closest('defaultchannel', ['defaultChannel', 'teamId'])).toBe('defaultChannel');
    expect(closest('work', ['worker', 'workspace'])).toBe('worker');
    expect(closest('phoneNumber', ['id', 'name', 'phoneNumbers'])).toBe('phoneNumbers');
  });

  it('suggests nothing when no candidate is near', () => {
    expect(closest('frobnicate', ['serve', 'status', 'backup'])).toBeNull();
    expect(closest('x', [])).toBeNull();
  });
});
