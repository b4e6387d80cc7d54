import type { AuditActor } from '../access/actor.ts';
import type { Logger } from '../logger/index.ts';
import type { EraseInput, ErasureCertificate, RetentionRunResult } from '../store/governance-types.ts';
import type { ConfigStore, GovernanceStore } from '../store/types.ts';

/** Deletes cached media files of messages (the `MediaStore`); answers the files it deleted. */
export interface MediaFiles {
  deleteMessages(workspaceId: string, messageIds: readonly string[]): Promise<string[]>;
}

/**
 * Erasure and retention as the CLI, the console and the worker run them: the store's transaction
 * first (it decides, and refuses under a legal hold), then the cached media files of the messages
 * whose content went, which the certificate or the run then lists. A crash between the two leaves
 * files whose message is already empty: the media route serves nothing for it, and the next
 * retention run (or a repeated erasure) deletes them.
 */
export class ArchiveGovernance {
  readonly #store: GovernanceStore & Pick<ConfigStore, 'listWorkspaces'>;
  readonly #media: MediaFiles;
  readonly #logger: Logger | undefined;

  constructor(options: {
    store: GovernanceStore & Pick<ConfigStore, 'listWorkspaces'>;
    media: MediaFiles;
    logger?: Logger;
  }) {
    this.#store = options.store;
    this.#media = options.media;
    this.#logger = options.logger;
  }

  /** Erases (or restricts) and deletes the cached media; answers the certificate as it stands. */
  async erase(input: EraseInput): Promise<ErasureCertificate> {
    const { certificate, messageIds } = await this.#store.erase(input);
    const files = await this.#media.deleteMessages(input.workspaceId, messageIds);
    if (files.length > 0) {
      await this.#store.recordErasureFiles({
        workspaceId: input.workspaceId,
        erasureId: certificate.id,
        files,
        actor: input.actor,
      });
    }
    return { ...certificate, wabridge: { ...certificate.wabridge, mediaFiles: files } };
  }

  /**
   * One retention run of a workspace at `now`, with the purged messages' media files deleted. It
   * goes in batches of `batch` records per kind, each its own short transaction (and its own
   * recorded purge), so a large backlog never holds the store for long; at most `maxBatches`.
   */
  async runRetention(input: {
    workspaceId: string;
    now: number;
    dryRun: boolean;
    actor: AuditActor;
    batch?: number;
    maxBatches?: number;
    /** Stops between batches once aborted (the upkeep's singleton lock was lost). */
    signal?: AbortSignal;
  }): Promise<RetentionRunResult & { mediaFiles: string[] }> {
    // Each batch finds its archive records in one scan of the workspace's log (there is no index by
    // entity, to keep ingest cheap): batches large enough that a backlog costs few scans.
    const { batch = 5000, maxBatches = 20, signal, ...run } = input;
    if (run.dryRun) return { ...(await this.#store.runRetention(run)), mediaFiles: [] };
    const first = await this.#store.runRetention({ ...run, limit: batch });
    let total = {
      ...first,
      mediaFiles: await this.#media.deleteMessages(input.workspaceId, first.purgedMessageIds),
    };
    let last: RetentionRunResult = first;
    for (let n = 1; n < maxBatches && last.kinds.some((k) => k.purged >= batch) && !signal?.aborted; n++) {
      last = await this.#store.runRetention({ ...run, limit: batch });
      total = merge(total, last, await this.#media.deleteMessages(input.workspaceId, last.purgedMessageIds));
    }
    return total;
  }

  /** The worker's periodic upkeep: every workspace with a rule, at `now`. */
  async runRetentionEverywhere(now: number, actor = 'worker:retention', signal?: AbortSignal): Promise<void> {
    for (const workspace of await this.#store.listWorkspaces()) {
      if (signal?.aborted) {
        this.#logger?.warn({ reason: String(signal.reason) }, 'retention run stopped');
        return;
      }
      if ((await this.#store.listRetention(workspace.id)).length === 0) continue;
      try {
        const result = await this.runRetention({
          workspaceId: workspace.id,
          now,
          dryRun: false,
          actor,
          ...(signal ? { signal } : {}),
        });
        const purged = result.kinds.reduce((sum, k) => sum + k.purged, 0);
        if (purged > 0)
          this.#logger?.info(
            { workspace: workspace.id, purged, mediaFiles: result.mediaFiles.length },
            'retention purge',
          );
      } catch (error) {
        this.#logger?.error({ workspace: workspace.id, err: error }, 'retention run failed');
      }
    }
  }
}

/** Two batches of one run as one result: counts added, the held count as the last batch saw it. */
function merge(
  total: RetentionRunResult & { mediaFiles: string[] },
  next: RetentionRunResult,
  mediaFiles: string[],
): RetentionRunResult & { mediaFiles: string[] } {
  return {
    ...total,
    kinds: next.kinds.map((k) => ({
      ...k,
      purged: k.purged + (total.kinds.find((t) => t.kind === k.kind)?.purged ?? 0),
    })),
    purgedMessageIds: [...total.purgedMessageIds, ...next.purgedMessageIds],
    mediaFiles: [...total.mediaFiles, ...mediaFiles],
  };
}
