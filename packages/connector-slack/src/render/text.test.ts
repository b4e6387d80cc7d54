import { describe, expect, it } from 'vitest';
import { slackReactionName } from './emoji.ts';
import { escapeMrkdwn, mentionsSomeone, slackToWhatsApp, truncate, truncateUnits } from './text.ts';

describe('text between WhatsApp and Slack', () => {
  it('escapes what a customer writes so it cannot ping a channel or hide a link', () => {
    expect(escapeMrkdwn('hi <!channel> & <https://evil.example|bank>')).toBe(
      'hi &lt;!channel&gt; &amp; &lt;https://evil.example|bank&gt;',
    );
  });

  it('turns an agent’s Slack markup into text a WhatsApp user can read', () => {
    expect(
      slackToWhatsApp(
        'See <https://t.example/1|tracking> or <https://t.example/2>, ask <@U123|bob> in <#C1|ops>',
      ),
    ).toBe('See tracking (https://t.example/1) or https://t.example/2, ask @bob in #ops');
    expect(slackToWhatsApp('*bold* _it_ ~no~ `code` 1 &lt; 2 &amp;&amp; 3 &gt; 2')).toBe(
      '*bold* _it_ ~no~ ```code``` 1 < 2 && 3 > 2',
    );
  });

  it('recognises a message addressed to colleagues', () => {
    expect(mentionsSomeone('<@U0BOB> can you look?')).toBe(true);
    expect(mentionsSomeone('<!here> anyone?')).toBe(true);
    expect(mentionsSomeone('Hello Ada, email me at ada@example.com')).toBe(false);
  });

  it('cuts text to Slack’s length counted in UTF-16 units, never inside an emoji', () => {
    expect(truncateUnits('ab😀cd', 4)).toBe('ab…');
    expect(truncateUnits('ab😀cd', 5)).toBe('ab😀…');
    expect(truncateUnits('short', 40_000)).toBe('short');
    const long = '😀'.repeat(30_000);
    expect(truncateUnits(long, 39_000).length).toBeLessThanOrEqual(39_000);
  });

  it('cuts long text on characters, not bytes', () => {
    expect(truncate('👍👍👍👍', 3)).toBe('👍👍…');
  });

  it('names WhatsApp reactions the Slack way, with skin tones', () => {
    expect(slackReactionName('👍')).toBe('+1');
    expect(slackReactionName('👍🏽')).toBe('+1::skin-tone-4');
    expect(slackReactionName('❤️')).toBe('heart');
    expect(slackReactionName('🦩')).toBeNull();
  });
});
