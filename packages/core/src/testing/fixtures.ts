import { newId } from '../ids/index.ts';
import type {
  ContactIdentity,
  IngestMessage,
  IngestMessagesChange,
  IngestStatus,
  IngestUnit,
  Store,
} from '../store/types.ts';

/** Builders for store-level tests: realistic ingest units without going through HTTP. */

export function identity(partial: Partial<ContactIdentity> = {}): ContactIdentity {
  return { waId: null, bsuid: null, parentBsuid: null, username: null, profileName: null, ...partial };
}

export function inboundMessage(partial: Partial<IngestMessage> & { wamid: string }): IngestMessage {
  return {
    id: newId('msg'),
    contact: identity({ waId: '15550001111', profileName: 'Ada' }),
    type: 'text',
    timestamp: 1_750_000_000_000,
    text: 'hello',
    content: { type: 'text', text: { body: 'hello' } },
    relatesTo: null,
    consent: null,
    identityChange: null,
    ...partial,
  };
}

export function status(partial: Partial<IngestStatus> & { wamid: string; status: string }): IngestStatus {
  return {
    id: newId('st'),
    timestamp: 1_750_000_100_000,
    recipient: identity({ waId: '15550001111' }),
    error: null,
    raw: {},
    ...partial,
  };
}

export function messagesUnit(
  workspaceId: string,
  change: Partial<IngestMessagesChange> & { messages?: IngestMessage[]; statuses?: IngestStatus[] },
  receivedAt = Date.now(),
): IngestUnit {
  return {
    receivedAt,
    changes: [
      {
        kind: 'messages',
        workspaceId,
        phoneNumberId: '106540352242922',
        displayPhoneNumber: '15550783881',
        deliverAt: receivedAt,
        messages: [],
        statuses: [],
        errors: [],
        origin: { wabaId: null, entryTime: null },
        ...change,
      },
    ],
  };
}

/** A customer's text message, ingested as a webhook of its own received at `at`. */
export async function ingestText(
  store: Pick<Store, 'ingest'>,
  workspaceId: string,
  message: { waId: string; profileName?: string; wamid: string; text: string; at: number },
): Promise<void> {
  const { waId, profileName, wamid, text, at } = message;
  await store.ingest(
    messagesUnit(
      workspaceId,
      {
        messages: [
          inboundMessage({
            wamid,
            contact: identity({ waId, ...(profileName ? { profileName } : {}) }),
            timestamp: at,
            text,
            content: { type: 'text', text: { body: text } },
          }),
        ],
      },
      at,
    ),
  );
}

/** A workspace with a number and the given connectors enabled (all events). */
export async function seedWorkspace(
  store: Store,
  options: { id?: string; phoneNumberId?: string; connectors?: string[]; events?: string[] } = {},
): Promise<string> {
  const workspace = await store.createWorkspace({ id: options.id ?? newId('ws'), name: 'Test workspace' });
  await store.addPhoneNumber({
    workspaceId: workspace.id,
    phoneNumberId: options.phoneNumberId ?? '106540352242922',
    displayPhoneNumber: '15550783881',
    wabaId: null,
  });
  for (const connectorId of options.connectors ?? []) {
    await store.setConnector({
      workspaceId: workspace.id,
      connectorId,
      enabled: true,
      events: options.events ?? [
        'message.inbound',
        'message.outbound',
        'message.status',
        'consent.changed',
        'conversation.updated',
        'conversation.erased',
        'notice',
      ],
      config: {},
      encryptedSecrets: null,
    });
  }
  return workspace.id;
}
