import type { Logger } from '../logger/index.ts';
import type { EraseInput, ErasureCertificate, RetentionRunResult } from '../store/governance-types.ts';
import type { Store } from '../store/types.ts';

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
  readonly #store: Store;
  readonly #media: MediaFiles;
  readonly #logger: Logger | undefined;

  constructor(options: { store: Store; media: MediaFiles; logger?: Logger }) {
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

  /** One retention run of a workspace at `now`, with the purged messages' media files deleted. */
  async runRetention(input: {
    workspaceId: string;
    now: number;
    dryRun: boolean;
    actor: string;
  }): Promise<RetentionRunResult & { mediaFiles: string[] }> {
    const result = await this.#store.runRetention(input);
    const mediaFiles = input.dryRun
      ? []
      : await this.#media.deleteMessages(input.workspaceId, result.purgedMessageIds);
    return { ...result, mediaFiles };
  }

  /** The worker's periodic upkeep: every workspace with a rule, at `now`. */
  async runRetentionEverywhere(now: number, actor = 'worker:retention'): Promise<void> {
    for (const workspace of await this.#store.listWorkspaces()) {
      if ((await this.#store.listRetention(workspace.id)).length === 0) continue;
      try {
        const result = await this.runRetention({ workspaceId: workspace.id, now, dryRun: false, actor });
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
