import { describe, expect, it } from 'vitest';
import { SlackWorkspace } from './state.ts';

function workspace() {
  let now = 1_800_000_000_000;
  const ws = new SlackWorkspace(() => now++);
  ws.addChannel('T0TEAM', { id: 'C0ONE', name: 'one' });
  const post = (text: string, threadTs?: string) =>
    ws.addMessage({
      channel: 'C0ONE',
      threadTs,
      user: 'U0BOT',
      botId: undefined,
      appId: undefined,
      username: undefined,
      userProfile: undefined,
      text,
      blocks: undefined,
      metadata: undefined,
      fileIds: [],
      subtype: undefined,
    });
  return { ws, post };
}

// The channel's messages are found by ts through an index (a campaign bench's channel holds
// 60,000): these pin that lookups, threads and removals still show what the channel holds.
describe('SlackWorkspace messages', () => {
  it('finds a message by ts, a reply to a reply lands in the parent thread, in order', () => {
    const { ws, post } = workspace();
    const root = post('card');
    const first = post('first', root.ts);
    const second = post('second', first.ts);
    post('another card');
    expect(ws.message('C0ONE', second.ts)).toBe(second);
    expect(second.threadTs).toBe(root.ts);
    expect(ws.thread('C0ONE', root.ts).map((m) => m.text)).toEqual(['card', 'first', 'second']);
    expect(ws.replies('C0ONE', root.ts).map((m) => m.text)).toEqual(['first', 'second']);
    expect(() => ws.thread('C0ONE', first.ts)).toThrow('thread_not_found');
    expect(() => post('orphan', '1.000001')).toThrow('thread_not_found');
  });

  it('forgets a removed message: not found, not in its thread, the rest in order', () => {
    const { ws, post } = workspace();
    const root = post('card');
    const first = post('first', root.ts);
    const second = post('second', root.ts);
    ws.removeMessage(first);
    expect(() => ws.message('C0ONE', first.ts)).toThrow('message_not_found');
    expect(ws.find('C0ONE', first.ts)).toBeUndefined();
    expect(ws.thread('C0ONE', root.ts)).toEqual([root, second]);
    ws.removeMessage(second);
    expect(ws.replies('C0ONE', root.ts)).toEqual([]);
    expect(ws.history('C0ONE')).toEqual([root]);
  });
});
