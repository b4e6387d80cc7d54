import type { BatchItem, ConnectorDeps, Message, RefAccess } from '@wabridge/core';
import { displayName, isBusinessAppMessage, toWabridgeError, WabridgeError } from '@wabridge/core';
import { type TimelineEntry, TimelineWriter } from '../api/timeline.ts';
import { TO_DEAL, TO_TICKET } from '../contacts/open-records.ts';
import type { ContactRequest, Resolution } from '../contacts/resolve.ts';
import { communicationBody, isMedia } from '../render/timeline.ts';
import { fail, type HubSpotParts, messageOf, type Outcome, ok, toOutcome } from './outcome.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

/** How a message's media shows on the timeline: a link, an attached HubSpot file, or neither. */
type MediaPart = {
  link: { url: string; expiresAt: number } | null;
  fileId: string | null;
  /** WhatsApp no longer has the file: the entry says so rather than link to nothing. */
  unavailable: boolean;
};

/** Messages, their edits and deletions, and failed statuses: one Communication each on the timeline. */
export async function writeTimeline(
  h: HubSpotParts,
  items: readonly BatchItem[],
  indexes: number[],
  linked: (i: number) => string | null,
  rewrite: ReadonlySet<string>,
  requests: ContactRequest[],
  uniqueKey: boolean,
  outcomes: (Outcome | undefined)[],
): Promise<void> {
  const live = indexes.filter((i) => linked(i) !== null);
  if (live.length === 0) return;
  const { openDeal, openTicket } = h.config.associate;
  const writer = new TimelineWriter(h.api, {
    uniqueKey,
    now: h.deps.now,
    ...(h.config.ownerId ? { ownerId: h.config.ownerId } : {}),
  });
  const build = async (
    i: number,
    hubspotId: string,
    open: Map<string, { deal: string | null; ticket: string | null }>,
  ) => {
    const { event, ctx } = items[i] as BatchItem;
    const message = messageOf(items[i] as BatchItem);
    const records = open.get(hubspotId);
    const also = [
      ...(records?.deal ? [{ id: records.deal, typeId: TO_DEAL }] : []),
      ...(records?.ticket ? [{ id: records.ticket, typeId: TO_TICKET }] : []),
    ];
    let media: MediaPart;
    try {
      media = await mediaOf(h, message, ctx.refs);
    } catch (error) {
      outcomes[i] = fail(error); // this message waits for its upload; the others go ahead
      return null;
    }
    const entry: TimelineEntry = {
      message,
      conversationId: event.conversation.id,
      hubspotContactId: hubspotId,
      also,
      body: communicationBody({
        message,
        contactName: displayName(event.contact),
        mediaLink: media.link,
        attachedFile: media.fileId !== null,
        mediaUnavailable: media.unavailable,
        masking: event.workspace.policies.numberMasking,
        related:
          (event.type === 'message.inbound' || event.type === 'message.outbound') && message === event.message
            ? event.related
            : null,
      }),
      attachmentIds: media.fileId ? [media.fileId] : [],
      refs: ctx.refs,
    };
    return entry;
  };
  const openFor = async (ids: string[]) => {
    if (!openDeal && !openTicket) return new Map<string, { deal: string | null; ticket: string | null }>();
    try {
      return await h.open.find(ids, { deal: openDeal, ticket: openTicket });
    } catch (error) {
      // The optional rule must not hold back the timeline: write without it this time.
      h.deps.logger.warn({ err: error }, 'could not look up open deals/tickets; writing without them');
      return new Map<string, { deal: string | null; ticket: string | null }>();
    }
  };

  const hubspotIds = new Map(live.map((i) => [i, linked(i) as string]));
  let open = await openFor([...hubspotIds.values()]);
  const present = (list: (TimelineEntry | null)[]) => list.filter((e): e is TimelineEntry => e !== null);
  let entries = present(await Promise.all(live.map((i) => build(i, hubspotIds.get(i) as string, open))));
  let written = await writer.write(entries, rewrite);

  // A contact deleted or merged in HubSpot since we mapped it: re-resolve those and try once more.
  const stale = live.filter(
    (i) => written.get(messageOf(items[i] as BatchItem).id)?.kind === 'stale_contact',
  );
  if (stale.length > 0) {
    const staleContacts = new Set(stale.map((i) => (items[i] as BatchItem).event.contact.id));
    try {
      const again = await h.contacts.reresolve(requests, staleContacts);
      for (const [id, resolution] of again)
        setResolution(h, id, resolution, items, stale, hubspotIds, outcomes);
      const retry = stale.filter((i) => !outcomes[i]);
      open = await openFor(retry.map((i) => hubspotIds.get(i) as string));
      entries = present(await Promise.all(retry.map((i) => build(i, hubspotIds.get(i) as string, open))));
      const second = await writer.write(entries, rewrite);
      written = new Map([...written, ...second]);
    } catch (error) {
      for (const i of stale) outcomes[i] ??= fail(error);
    }
  }

  for (const i of live) {
    if (outcomes[i]) continue;
    const item = items[i] as BatchItem;
    const message = messageOf(item);
    outcomes[i] = toOutcome(written.get(message.id), message.id, hubspotIds.get(i) as string);
  }
}

function setResolution(
  _h: HubSpotParts,
  contactId: string,
  resolution: Resolution,
  items: readonly BatchItem[],
  indexes: number[],
  hubspotIds: Map<number, string>,
  outcomes: (Outcome | undefined)[],
): void {
  for (const i of indexes) {
    if ((items[i] as BatchItem).event.contact.id !== contactId) continue;
    if (resolution.kind === 'linked') hubspotIds.set(i, resolution.hubspotId);
    else if (resolution.kind === 'skipped') outcomes[i] = ok();
    else outcomes[i] = fail(resolution.error);
  }
}

/**
 * A link to the media (inbound), or the file uploaded to HubSpot when the workspace wants that.
 * An upload HubSpot may still accept (rate limit, 5xx) fails the message so it is retried; media
 * that cannot be had at all (expired at Meta, refused by HubSpot) is described as unavailable.
 */
async function mediaOf(h: HubSpotParts, message: Message, refs: RefAccess): Promise<MediaPart> {
  const none: MediaPart = { link: null, fileId: null, unavailable: false };
  const carries = message.direction === 'inbound' || isBusinessAppMessage(message);
  if (!isMedia(message) || !carries) return none;
  const { media } = h.config;
  const uploaded = media.upload ? await refs.get('file', message.id) : null;
  if (message.revision?.revokedAt) {
    // Deleted by its author: the copy in HubSpot Files goes too (the archive keeps the message).
    if (uploaded) await h.api.deleteFile(uploaded.externalId);
    return none;
  }
  if (uploaded) return { link: null, fileId: uploaded.externalId, unavailable: false };
  // Fetched now (and kept by the gateway), so the link keeps working after WhatsApp lets the
  // file expire, and a file WhatsApp no longer has is said so instead of a link that fails.
  let file: Awaited<ReturnType<ConnectorDeps['media']['fetch']>>;
  try {
    file = await h.deps.media.fetch(message.id);
  } catch (error) {
    const failure = toWabridgeError(error);
    if (failure.retryable) throw failure;
    h.deps.logger.info({ code: failure.code, message: message.id }, 'WhatsApp media unavailable');
    return { ...none, unavailable: true };
  }
  if (media.upload) {
    try {
      // The name carries the message id, so a repeated upload finds the first one (see uploadFile).
      const filename = `${message.id}-${file.filename}`;
      const { id } = await h.api.uploadFile({ bytes: file.bytes, filename }, media.folderPath);
      await refs.checkpoint({
        kind: 'file',
        entityId: message.id,
        externalId: id,
        data: { sha256: file.sha256 },
      });
      return { link: null, fileId: id, unavailable: false };
    } catch (error) {
      if (error instanceof WabridgeError && error.retryable) throw error;
      h.deps.logger.warn(
        { err: error, message: message.id },
        'HubSpot refused the media upload; linking instead',
      );
    }
  }
  const ttl = media.linkTtlDays * DAY_MS;
  return {
    link: { url: h.deps.media.url(message.id, ttl), expiresAt: h.deps.now() + ttl },
    fileId: null,
    unavailable: false,
  };
}
