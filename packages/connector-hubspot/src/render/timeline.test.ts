import type { Message } from '@wabridge/core';
import { describe, expect, it } from 'vitest';
import { communicationBody, MAX_BODY_CHARS } from './timeline.ts';

const message = (partial: Partial<Message>): Message => ({
  id: 'msg_1',
  workspaceId: 'ws',
  conversationId: 'conv',
  direction: 'inbound',
  wamid: 'wamid.1',
  type: 'text',
  timestamp: 0,
  text: null,
  content: {},
  state: null,
  error: null,
  sender: null,
  relatesTo: null,
  createdAt: 0,
  ...partial,
});

describe('timeline entry bodies', () => {
  it('escapes customer text so it cannot inject markup', () => {
    const body = communicationBody({
      message: message({ text: '<img src=x onerror=alert(1)> "hi"\nbye' }),
      contactName: '<b>Eve</b>',
      mediaLink: null,
      attachedFile: false,
    });
    expect(body).not.toContain('<img');
    expect(body).not.toContain('<b>Eve');
    expect(body).toContain('&lt;img src=x onerror=alert(1)&gt; &quot;hi&quot;<br>bye');
  });

  it('describes media with a link that says until when it works', () => {
    const body = communicationBody({
      message: message({
        type: 'document',
        text: 'the contract',
        content: { type: 'document', document: { mime_type: 'application/pdf', filename: 'contract.pdf' } },
      }),
      contactName: 'Ada',
      mediaLink: { url: 'https://bridge.test/media/ws/msg_1?sig=a&b=c', expiresAt: Date.UTC(2026, 0, 31) },
      attachedFile: false,
    });
    expect(body).toContain('Document — application/pdf, contract.pdf');
    expect(body).toContain('href="https://bridge.test/media/ws/msg_1?sig=a&amp;b=c"');
    expect(body).toContain('valid until 2026-01-31');
    expect(body).toContain('the contract');
  });

  it('says who sent a reply and that WhatsApp did not deliver it', () => {
    const body = communicationBody({
      message: message({
        direction: 'outbound',
        text: 'Your order shipped',
        state: 'failed',
        sender: { via: 'teams', viaName: 'Microsoft Teams', agentId: 'u1', agentName: 'Grace' },
        error: {
          code: 131047,
          title: 'Re-engagement',
          meaning: 'The 24-hour window is closed.',
          action: 'Send a template.',
        },
      }),
      contactName: 'Ada',
      mediaLink: null,
      attachedFile: false,
    });
    expect(body).toContain('sent by Grace via Microsoft Teams');
    expect(body).toContain('Not delivered:</strong> The 24-hour window is closed. Send a template.');
  });

  it('cuts a text too long for HubSpot to fit its 65,536-character limit, and says so', () => {
    const text = 'Ünïcode & <tags> 😀 '.repeat(4000).slice(0, 65_536);
    const body = communicationBody({
      message: message({ text, content: { type: 'text', text: { body: text } } }),
      contactName: 'Ada',
      mediaLink: null,
      attachedFile: false,
    });
    expect(body.length).toBeLessThanOrEqual(MAX_BODY_CHARS);
    expect(body).toContain('shortened here; the whole message is kept in the wabridge archive');
    expect(body).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });
});
