import type { ExternalRef } from '../domain/types.ts';
import { isWabridgeError } from '../errors/index.ts';
import type { RefAccess } from './contract.ts';

/** The external id of a ref that marks a post in flight: `pending:<nonce>`. */
export const PENDING_REF_PREFIX = 'pending:';

/** True when the ref marks a post that was started and may or may not have happened. */
export function isPendingRef(ref: ExternalRef | null): ref is ExternalRef {
  return ref?.externalId.startsWith(PENDING_REF_PREFIX) === true;
}

/** What a pending marker remembers: the attempt's nonce, where it posted, and when. */
export interface PendingPost {
  nonce: string;
  /** The `where` data of the attempt (a channel, a thread). */
  data: Record<string, unknown>;
  /** The `shows` of the attempt ({} when it had none, or the marker predates them). */
  shows: Record<string, unknown>;
  /** When the marker was written (our clock): a search need not look further back. */
  at: number;
}

export interface PostOnceSpec<Post> {
  /** The ref that records the post. */
  kind: ExternalRef['kind'];
  entityId: string;
  /** The ref as the caller read it (null when none). */
  existing: ExternalRef | null;
  /** The post a finished ref records, or null when the ref records none (a marker, nothing). */
  posted(ref: ExternalRef): Post | null;
  /**
   * The nonce a new attempt carries in the platform's message (Slack metadata, a Teams card's
   * attachment id) so a later attempt can recognise it. Random, or derived from the entity.
   */
  nonce: string;
  /** Kept on the marker: where the post goes, so a search after a crash knows where to look. */
  where: Record<string, unknown>;
  /**
   * Kept on the marker too: what this attempt's post shows that can change later (the status a
   * mirrored message was rendered with). A post a later attempt finds is the earlier attempt's,
   * rendered then; it is recorded with that attempt's `shows` (see `record`), not this one's.
   */
  shows?: Record<string, unknown>;
  /** Looks for an earlier attempt's post by its marker; null when it is not there. */
  find(marker: PendingPost): Promise<Post | null>;
  /**
   * Makes the post carrying `nonce`. It must call `mark()` right before the request leaves (after
   * any pacing), so the marker is durable before the platform can act on the request.
   */
  send(nonce: string, mark: () => Promise<void>): Promise<Post>;
  /**
   * The finished ref of a post. `shows`: what the post shows, the `shows` of the attempt that made
   * it (this one's for a post just made, the marker's for a post found by its nonce).
   */
  record(post: Post, shows: Record<string, unknown>): { externalId: string; data: Record<string, unknown> };
  /**
   * Errors after which the post surely did not happen (the platform refused it): the marker is
   * cleared so the retry posts without searching. Without it, every failed attempt searches.
   */
  surelyNotSent?(error: unknown): boolean;
  now(): number;
}

/**
 * Posts once per ref, even across crashes and retries: the connector kit's single "post once".
 *
 * 1. A finished ref: the post was made; nothing to do.
 * 2. A pending marker: an attempt started and its outcome is unknown (a crash, a timeout). Search
 *    for the post by the marker's nonce; if found, record it and stop.
 * 3. Otherwise post, with a marker checkpointed right before the request and the finished ref
 *    right after; a refusal the platform surely did not act on clears the marker.
 *
 * Every step is a checkpoint fenced by the job's lease, so an attempt that lost its job cannot
 * record anything.
 */
export async function postOnce<Post>(refs: RefAccess, spec: PostOnceSpec<Post>): Promise<Post> {
  const target = { kind: spec.kind, entityId: spec.entityId };
  const done = spec.existing ? spec.posted(spec.existing) : null;
  if (done) return done;
  if (isPendingRef(spec.existing)) {
    const marker = pendingPost(spec.existing);
    const found = marker ? await spec.find(marker) : null;
    if (found) {
      await refs.checkpoint({ ...target, ...spec.record(found, marker?.shows ?? {}) });
      return found;
    }
  }
  let marked = false;
  const mark = async () => {
    await refs.checkpoint({
      ...target,
      externalId: `${PENDING_REF_PREFIX}${spec.nonce}`,
      data: {
        ...spec.where,
        ...(spec.shows ? { shows: spec.shows } : {}),
        pending: true,
        nonce: spec.nonce,
        at: spec.now(),
      },
    });
    marked = true;
  };
  let post: Post;
  try {
    post = await spec.send(spec.nonce, mark);
  } catch (error) {
    if (marked && spec.surelyNotSent?.(error)) {
      // Nothing to search for on the retry. Best effort: failing to clear only costs a search.
      await refs.checkpoint({ ...target, externalId: '', data: {} }).catch(() => {});
    }
    throw error;
  }
  await refs.checkpoint({ ...target, ...spec.record(post, spec.shows ?? {}) });
  return post;
}

/**
 * A `surelyNotSent` for platforms that act on a request only when they accept it: the platform
 * answered and refused (429, a validation or permission error, a configuration our side must fix),
 * or our own pacer handed the job back after the marker was written. Timeouts, network errors and
 * 5xx are not: the request may have been carried out.
 */
export function refusedBeforeActing(error: unknown): boolean {
  if (!isWabridgeError(error)) return false;
  const { code } = error;
  return (
    code === 'rate_limited' || code === 'permanent' || code === 'auth_failed' || code === 'config_invalid'
  );
}

/** The marker's attempt, or null when the marker carries no nonce (nothing to search for). */
export function pendingPost(ref: ExternalRef): PendingPost | null {
  const { nonce, at, pending: _pending, shows, ...data } = ref.data as Record<string, unknown>;
  if (typeof nonce !== 'string' || nonce === '') return null;
  const attempt = shows !== null && typeof shows === 'object' ? (shows as Record<string, unknown>) : {};
  return { nonce, data, shows: attempt, at: typeof at === 'number' ? at : 0 };
}
