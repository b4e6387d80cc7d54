import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readZip } from '@wabridge/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWabridge } from './support/cli-process.ts';
import { type FixtureRun, type FixtureStack, startFixtureStack } from './support/fixture-stack.ts';

/**
 * Agents' internal notes in the archive (issue 18, item 1) end to end: a real gateway mirrors a
 * customer to the Slack and Teams emulators; agents write notes in both threads (over HTTP, as the
 * platforms deliver them); the real CLI, in its own process, turns the workspace's policy on and
 * off and exports the contact. With the policy off nothing is kept; with it on every note is in
 * the export marked internal, with its edit and its deletion, and never reaches WhatsApp.
 */
let stack: FixtureStack;
const out = mkdtempSync(join(tmpdir(), 'wabridge-notes-'));
beforeAll(async () => {
  stack = await startFixtureStack();
}, 60_000);
afterAll(async () => {
  await stack?.close();
  rmSync(out, { recursive: true, force: true });
});

const cli = (run: FixtureRun, ...args: string[]) =>
  runWabridge(
    run.runtime.env.dataDir,
    { WABRIDGE_MASTER_KEY: run.runtime.env.WABRIDGE_MASTER_KEY ?? '' },
    ...args,
  );

async function setPolicy(run: FixtureRun, on: boolean): Promise<void> {
  const result = await cli(
    run,
    'workspace',
    'policies',
    run.workspaceId,
    '--json',
    JSON.stringify({ archiveInternalNotes: on }),
  );
  expect(result.code, result.stderr).toBe(0);
  expect(JSON.parse(result.stdout)).toMatchObject({ archiveInternalNotes: on });
}

let exports = 0;
/** `wabridge export` of the contact, verified offline, and what its data.json and transcripts say. */
async function exported(run: FixtureRun, waId: string) {
  const file = join(out, `export-${++exports}.zip`);
  const result = await cli(run, 'export', run.workspaceId, '--contact', `+${waId}`, '--out', file);
  expect(result.code, result.stderr).toBe(0);
  const files = await readZip(file);
  const data = JSON.parse(files.get('data.json')?.toString('utf8') ?? '{}') as {
    conversations: Array<{ messages: Array<Record<string, unknown>> }>;
  };
  const transcripts = [...files.entries()]
    .filter(([name]) => name.startsWith('transcripts/'))
    .map(([, bytes]) => bytes.toString('utf8'))
    .join('\n');
  const records = (files.get('records.jsonl')?.toString('utf8') ?? '').trim().split('\n');
  return { file, messages: data.conversations.flatMap((c) => c.messages), transcripts, records };
}

describe('internal notes in the archive', { timeout: 240_000 }, () => {
  it('with the policy off no note is kept; on, Slack and Teams notes are exported marked internal, with edits and deletions, and never sent', async () => {
    const run = await stack.fresh();
    const ws = run.workspaceId;
    const waId = '15550809501';
    await stack.whatsapp.customer({ waId, name: 'Nora Notes' }).sendText('where is my parcel?');
    await run.settle();
    const store = run.runtime.store;
    const [conversation] = await store.listConversations(ws);
    if (!conversation) throw new Error('the customer has no conversation');
    const slackRef = await store.getRef(ws, 'slack', 'conversation', conversation.id);
    const [channel, threadTs] = (slackRef?.externalId ?? '').split(':');
    const teamsRef = (await store.getRef(ws, 'teams', 'conversation', conversation.id))?.data as {
      rootId?: string;
      channelId?: string;
    };
    if (!channel || !threadTs || !teamsRef?.rootId) throw new Error('the conversation is not mirrored');
    const grace = stack.slack.agent({ id: 'U0GRACE002', name: 'Grace Hopper' });
    const teamsThread = { rootId: teamsRef.rootId, channelId: teamsRef.channelId ?? '' };
    const sendsBefore = stack.whatsapp.ledger.filter('send.accepted').length;

    // Off (the default): notes stay on their platform only.
    await grace.reply({ channel, threadTs }, '// off-the-record slack note');
    stack.graph.agentReply({ ...teamsThread, text: '// off-the-record teams note' });
    await run.settle();
    const off = await exported(run, waId);
    expect(off.messages.filter((m) => m.internal === true)).toEqual([]);
    expect(off.transcripts).not.toContain('off-the-record');
    expect(off.records.join('\n')).not.toContain('off-the-record');

    // On: each note is kept, durably, before the platform's callback was answered.
    await setPolicy(run, true);
    const slackNote = await grace.reply({ channel, threadTs }, '// slack note: refund approved by finance');
    const teamsNote = stack.graph.agentReply({ ...teamsThread, text: '// teams note: parcel lost, resend' });
    await run.settle();
    await grace.edit({ channel, ts: slackNote.ts }, '// slack note: refund approved by finance (ticket 42)');
    stack.graph.agentDelete({ id: teamsNote.id, ...teamsThread });
    await run.settle();

    const on = await exported(run, waId);
    const notes = on.messages.filter((m) => m.internal === true);
    expect(notes.map((n) => [n.archive_kind, n.direction, n.type, n.text])).toEqual([
      ['note', 'internal', 'note', '// slack note: refund approved by finance'],
      ['note', 'internal', 'note', '// teams note: parcel lost, resend'],
    ]);
    const [slackKept, teamsKept] = notes as [Record<string, unknown>, Record<string, unknown>];
    expect(slackKept.sender).toEqual({ via: 'slack', agentId: 'U0GRACE002', agentName: 'Grace Hopper' });
    expect(teamsKept.sender).toMatchObject({ via: 'teams' });
    expect(slackKept.revisions).toEqual([
      expect.objectContaining({
        type: 'edit',
        text: '// slack note: refund approved by finance (ticket 42)',
      }),
    ]);
    expect(teamsKept.revisions).toEqual([expect.objectContaining({ type: 'revoke', internal: true })]);
    expect(on.transcripts).toContain('Internal note</strong> (not sent to the contact)');
    expect(on.transcripts).toContain('slack note: refund approved by finance (ticket 42)');
    // The policy-off notes stayed out; nothing of any note went to WhatsApp.
    expect(on.records.join('\n')).not.toContain('off-the-record');
    const sends = stack.whatsapp.ledger.filter('send.accepted');
    expect(sends.length).toBe(sendsBefore);

    // The export, with its note records, verifies offline; so does the live log.
    const verified = await cli(run, 'archive', 'verify', '--export', on.file);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const live = await cli(run, 'archive', 'verify', ws);
    expect(live.code, live.stdout + live.stderr).toBe(0);

    // Off again: a new note is not kept.
    await setPolicy(run, false);
    await grace.reply({ channel, threadTs }, '// after-policy-off note');
    await run.settle();
    const again = await exported(run, waId);
    expect(again.messages.filter((m) => m.internal === true)).toHaveLength(2);
    expect(again.records.join('\n')).not.toContain('after-policy-off');
  });
});
