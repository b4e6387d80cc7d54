import { silentLogger } from '@wabridge/core';
import { memoryConnectorState } from '@wabridge/core/testing';
import type { GraphEmulator } from '@wabridge/sandbox/graph';
import { afterEach, describe, expect, it } from 'vitest';
import { channelOfUrl } from '../src/api/channel-send.ts';
import { TeamsApi } from '../src/api/teams-api.ts';
import { createTokenSource } from '../src/auth/tokens.ts';
import { type ChannelTarget, teamsConfigSchema } from '../src/config.ts';
import { configFor, startGraph } from './support.ts';

let graph: GraphEmulator | null = null;
afterEach(async () => {
  await graph?.close();
  graph = null;
});

describe('the moment a channel request leaves', () => {
  it('holds every request on a channel at the last link before HTTP, and no other request', async () => {
    graph = await startGraph();
    const config = teamsConfigSchema.parse(configFor(graph));
    const tokens = createTokenSource(config, {
      state: memoryConnectorState().state,
      logger: silentLogger,
      now: () => Date.now(),
    });
    const held: ChannelTarget[] = [];
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const api = new TeamsApi({
      baseUrl: config.graphBaseUrl,
      version: config.graphVersion,
      tokens,
      beforeChannelSend: async (channel) => {
        held.push(channel);
        await gate;
      },
    });
    const channel = { teamId: graph.teamId, channelId: graph.channelId };

    expect((await api.me()).id).toBeTruthy();
    expect(held).toEqual([]);

    const post = api.postMessage(channel, null, { body: { contentType: 'html', content: '<p>held</p>' } });
    while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
    expect(held).toEqual([channel]);
    // The token was fetched and the request built, but it has not reached Graph.
    expect(graph.roots()).toEqual([]);
    release();
    const posted = await post;
    expect(graph.roots().map((m) => m.id)).toEqual([posted.id]);
  });

  it('reads the channel from the URL as channelPath writes it, keys unescaped', () => {
    const teamId = 'b5a1c2d3-0000-4000-8000-000000000001';
    const channelId = '19:general@thread.tacv2';
    const url = `https://graph.example/v1.0/teams/${encodeURIComponent(teamId)}/channels/${encodeURIComponent(channelId)}/messages/1700000000000/replies?$top=50`;
    expect(channelOfUrl(url)).toEqual({ teamId, channelId });
    expect(channelOfUrl('https://graph.example/v1.0/me')).toBeNull();
    expect(channelOfUrl('https://graph.example/v1.0/subscriptions/abc')).toBeNull();
    expect(channelOfUrl('https://graph.example/v1.0/teams/t/channels/%E0%A4%A')).toBeNull();
  });
});
