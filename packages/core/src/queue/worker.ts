import { randomUUID } from 'node:crypto';
import type { BatchItem, DeliveryContext, RefAccess } from '../connector/contract.ts';
import type { ConnectorHost } from '../connector/host.ts';
import { linkAccess } from '../connector/links.ts';
import type { JobEvent } from '../domain/events.ts';
import type { ExternalRef } from '../domain/types.ts';
import { toWabridgeError, WabridgeError } from '../errors/index.ts';
import { type Logger, lazyChild } from '../logger/index.ts';
import type { Metrics } from '../metrics/index.ts';
import type {
  ConfigStore,
  ConnectorStateStore,
  ExclusiveStore,
  Job,
  JobStore,
  JobWatch,
  ReadStore,
  RefStore,
} from '../store/types.ts';
import { runInWorkSlot, type WorkSlot } from '../util/work-slot.ts';
import { type BackoffPolicy, backoffDelay, DEFAULT_BACKOFF } from './backoff.ts';
import { hydrateJob } from './hydrate.ts';

/** Why a claimed job completed without a delivery (the `reason` of `jobs_skipped_total`). */
type SkipReason = 'superseded' | 'not_shown' | 'disabled';

export interface WorkerOptions {
  /**
   * The queue, refs for delivery, leases (and, on a store several processes share, its exclusive
   * lock) for maintenance, reads to build events without `hydrateEvent`.
   */
  store: JobStore &
    RefStore &
    ConnectorStateStore &
    ReadStore &
    Pick<ConfigStore, 'getWorkspace'> &
    Partial<ExclusiveStore>;
  host: ConnectorHost;
  logger: Logger;
  metrics: Metrics;
  workerId?: string;
  /** Jobs in flight at once (across all conversations), not counting those parked (below). */
  concurrency?: number;
  /**
   * Jobs that may wait for their pace lane outside their slots at once (`WorkSlot`): a delivery
   * sleeping in a pacer holds no slot, so slow lanes (Teams channels at 3 requests/s) do not
   * starve the sends and the other connectors. 4 × concurrency by default; beyond it a pacer's
   * wait holds its slot, and the pacer hands jobs back sooner.
   */
  maxParked?: number;
  /** How long a claim is valid without a heartbeat; a crashed worker's jobs are retaken after it. */
  leaseMs?: number;
  /** A delivery taking longer than this is aborted and retried. */
  deliveryTimeoutMs?: number;
  /**
   * Longest sleep while idle (another process may have queued work): 500 ms by default, 5 s when
   * the store wakes the worker itself (`watchJobs`, Postgres), where the poll only catches what a
   * notification missed (scheduled retries and expired leases have `nextRunAt`).
   */
  pollIntervalMs?: number;
  maintenanceIntervalMs?: number;
  /**
   * Periodic archive upkeep (the retention purge), run by one worker at a time at most every
   * `upkeepIntervalMs` (default an hour), at the worker's clock.
   */
  upkeep?: ((now: number, signal: AbortSignal) => Promise<void>) | null;
  upkeepIntervalMs?: number;
  backoff?: BackoffPolicy;
  now?: () => number;
  random?: () => number;
}

/**
 * How long claims for the connectors below their share pause after one found nothing: a second
 * at most of a slow connector's slots not offered to the others first.
 */
const SHARE_CLAIM_PAUSE_MS = 1000;

/** Why an idle worker woke: its poll timer, slots freed by finished jobs, new jobs, or stop. */
type WakeReason = 'timer' | 'slots' | 'notified' | 'stop';

/**
 * The delivery engine. Claims jobs that head their (conversation, connector) queue, hydrates the
 * event, hands it to the connector (the WhatsApp sender is one, internal), and settles the job
 * under its lease: completed with the refs it created, retried with back-off, or dead-lettered
 * with the reason.
 * Settling with a lost lease is refused by the store, so a stale worker cannot undo a newer one.
 */
export class Worker {
  readonly workerId: string;
  private readonly o: Required<Omit<WorkerOptions, 'workerId' | 'upkeep' | 'maxParked'>> & {
    upkeep: ((now: number, signal: AbortSignal) => Promise<void>) | null;
  };
  /** When this worker last ran the archive upkeep (see WorkerOptions.upkeep). */
  private upkeepAt = Number.NEGATIVE_INFINITY;
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  /** Jobs in flight that wait for their pace lane outside their slots (see WorkSlot). */
  private parkedJobs = 0;
  /** Slots held per connector: its jobs and batches in flight, less those parked (see fill). */
  private readonly slotsHeld = new Map<string, number>();
  /** Until when claims only for the connectors below their share are not tried (see fill). */
  private shareClaimsPausedUntil = Number.NEGATIVE_INFINITY;
  private readonly maxParked: number;
  private readonly batchesInFlight = new Set<string>();
  private wake: ((reason: WakeReason) => void) | null = null;
  /** Enough slots came free since the last claim to claim again (see claimAtFree). */
  private slotsFreed = false;
  /** Jobs may have been queued since the last claim began (see notify). */
  private notified = false;
  /** The store's notifications of new jobs, when it has them (see JobStore.watchJobs). */
  private watch: JobWatch | null = null;
  private maintenanceTimer: NodeJS.Timeout | null = null;
  private readonly controllers = new Set<AbortController>();

  constructor(options: WorkerOptions) {
    this.workerId = options.workerId ?? `worker-${randomUUID().slice(0, 8)}`;
    this.o = {
      concurrency: 16,
      leaseMs: 30_000,
      deliveryTimeoutMs: 120_000,
      pollIntervalMs: options.store.watchJobs ? 5000 : 500,
      maintenanceIntervalMs: 60_000,
      upkeepIntervalMs: 3_600_000,
      backoff: DEFAULT_BACKOFF,
      now: Date.now,
      random: Math.random,
      ...options,
      upkeep: options.upkeep ?? null,
    };
    this.maxParked = options.maxParked ?? this.o.concurrency * 4;
  }

  /** Jobs in flight that hold a slot (parked ones do not). */
  private active(): number {
    return this.inFlight.size - this.parkedJobs;
  }

  /** Slots free for claims: concurrency less the active jobs, and never past the parked bound. */
  private freeSlots(): number {
    return Math.min(
      this.o.concurrency - this.active(),
      this.o.concurrency + this.maxParked - this.inFlight.size,
    );
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.watch = this.o.store.watchJobs?.(() => this.notify()) ?? null;
    this.loop = this.run();
    this.maintenanceTimer = setInterval(() => void this.maintain(), this.o.maintenanceIntervalMs);
    this.maintenanceTimer.unref();
    void this.maintain();
  }

  /** Stops claiming, waits for jobs in flight (aborting them after `graceMs`), then returns. */
  async stop(graceMs = 10_000): Promise<void> {
    this.running = false;
    if (this.maintenanceTimer) clearInterval(this.maintenanceTimer);
    this.wake?.('stop');
    await this.loop;
    await this.watch?.close();
    this.watch = null;
    const timer = setTimeout(() => {
      for (const controller of this.controllers) controller.abort(new Error('worker stopping'));
    }, graceMs);
    await Promise.allSettled([...this.inFlight]);
    clearTimeout(timer);
  }

  /**
   * Tells the worker that new jobs may be ready (a local commit, or the store's notification of
   * another process's). Kept until the next claim when it comes while one runs, whose snapshot may
   * predate the jobs. Ignored while too few slots are free to claim: finishing jobs wake it then.
   */
  notify(): void {
    if (this.freeSlots() < this.claimAtFree()) return;
    this.notified = true;
    this.wake?.('notified');
  }

  /**
   * Runs until no job is ready now and none is in flight. For tests and one-shot CLI use; jobs
   * scheduled for later are left for later.
   */
  async drain(): Promise<void> {
    for (;;) {
      const claimed = await this.fill();
      if (claimed === 0 && this.inFlight.size === 0) return;
      if (this.inFlight.size > 0) await Promise.race(this.inFlight);
    }
  }

  private async run(): Promise<void> {
    // Claims begin once notifications flow, so none of the jobs queued after the first claim's
    // snapshot can go unnoticed until the (slow) poll.
    await this.watch?.listening;
    while (this.running) {
      try {
        this.slotsFreed = false;
        this.notified = false;
        const claimed = await this.fill();
        if (claimed === 0 || this.freeSlots() < this.claimAtFree()) await this.idle();
      } catch (error) {
        this.o.logger.error({ err: error }, 'worker loop failed; retrying');
        await this.idle(this.o.pollIntervalMs);
      }
    }
  }

  private async idle(maxMs?: number): Promise<void> {
    let timeout = maxMs ?? this.o.pollIntervalMs;
    // Woken already (new jobs or freed slots while the claim ran): no need to ask when to wake.
    const woken = !this.running || this.slotsFreed || this.notified;
    if (maxMs === undefined && !woken && this.freeSlots() > 0) {
      const next = await this.o.store.nextRunAt();
      if (next !== null) timeout = Math.max(5, Math.min(timeout, next - this.o.now()));
    }
    const reason = await new Promise<WakeReason>((resolve) => {
      const timer = setTimeout(() => done('timer'), timeout);
      function done(why: WakeReason) {
        clearTimeout(timer);
        resolve(why);
      }
      // Called by a finished job once enough slots are free (see track), by notify or by stop; any
      // of them may have happened since the claim, before there was a wake to call.
      this.wake = done;
      if (!this.running) done('stop');
      else if (this.slotsFreed) done('slots');
      else if (this.notified) done('notified');
    });
    this.wake = null;
    this.o.metrics.increment('worker_wakeups_total', { reason });
  }

  /**
   * Free slots worth a claim while jobs are in flight: a quarter of them. A claim costs the store
   * thread about the same for 1 job as for 4 (it reads a window of at least 64 queued jobs), and
   * the store thread sets the pace under backlog, so claiming for every finished job would spend
   * most of a claim's cost per job. With nothing in flight, any free slot is claimed at once.
   */
  private claimAtFree(): number {
    return this.inFlight.size === 0 ? 1 : Math.max(1, Math.floor(this.o.concurrency / 4));
  }

  /**
   * Claims what fits in the free slots and starts it. Returns the number of jobs claimed.
   *
   * A claim takes the oldest jobs that head their queue, so one slow connector with a deep
   * backlog (Teams' channels at a few requests a second, during a campaign) would otherwise get
   * nearly every freed slot, and a WhatsApp send retried after a timeout waited behind thousands
   * of its jobs (15 minutes in the campaign bench). So while some connector holds its share of the
   * slots or more (concurrency divided among the delivering connectors), the free slots are
   * offered first to the connectors below their share, and only what they leave goes to all.
   * Nothing idles for it: with no other work, the busy connector still gets every slot.
   */
  private async fill(): Promise<number> {
    let claimed = 0;
    const connectors = this.o.host.registry.delivering();
    const batchIds = new Set(connectors.filter((m) => m.capabilities.batch).map((m) => m.id));
    const singleIds = connectors.filter((m) => !batchIds.has(m.id)).map((m) => m.id);
    let free = this.freeSlots();
    if (free > 0 && singleIds.length > 0) {
      const share = Math.max(1, Math.floor(this.o.concurrency / connectors.length));
      const below = singleIds.filter((id) => (this.slotsHeld.get(id) ?? 0) < share);
      const now = this.o.now();
      if (below.length > 0 && below.length < singleIds.length && now >= this.shareClaimsPausedUntil) {
        const started = await this.claimAndStart(below, free);
        // None of them had work: do not spend a claim on them at every freed slot. A claim that
        // finds nothing walks the queues of the busy connector too (see JobStore.claimJobs).
        if (started === 0) this.shareClaimsPausedUntil = now + SHARE_CLAIM_PAUSE_MS;
        claimed += started;
        free -= started;
      }
      if (free > 0) claimed += await this.claimAndStart(singleIds, free);
    }
    if (batchIds.size > 0) claimed += await this.fillBatches(batchIds);
    return claimed;
  }

  /** Claims up to `limit` jobs of these (non-batch) connectors and starts them. */
  private async claimAndStart(connectorIds: readonly string[], limit: number): Promise<number> {
    const jobs = await this.o.store.claimJobs({
      limit,
      leaseMs: this.o.leaseMs,
      workerId: this.workerId,
      now: this.o.now(),
      connectorIds,
    });
    for (const job of jobs) this.track(job.connectorId, () => this.process(job));
    return jobs.length;
  }

  private async fillBatches(batchIds: ReadonlySet<string>): Promise<number> {
    let claimed = 0;
    const settings = await this.o.host.settings();
    for (const setting of settings) {
      if (!setting.enabled || !batchIds.has(setting.connectorId)) continue;
      if (this.freeSlots() <= 0) break;
      // One batch per (workspace, connector) at a time: the platform limit is per account anyway.
      const key = `${setting.workspaceId}/${setting.connectorId}`;
      if (this.batchesInFlight.has(key)) continue;
      const manifest = this.o.host.registry.require(setting.connectorId);
      const jobs = await this.o.store.claimBatch({
        workspaceId: setting.workspaceId,
        connectorId: setting.connectorId,
        limit: manifest.capabilities.batch?.maxSize ?? 100,
        leaseMs: this.o.leaseMs,
        workerId: this.workerId,
        now: this.o.now(),
      });
      if (jobs.length === 0) continue;
      this.batchesInFlight.add(key);
      this.track(setting.connectorId, () =>
        this.processBatch(setting.workspaceId, setting.connectorId, jobs).finally(() =>
          this.batchesInFlight.delete(key),
        ),
      );
      claimed += jobs.length;
    }
    return claimed;
  }

  /** Runs claimed work in a slot of its own (see WorkSlot) and counts it in flight until it ends. */
  private track(connectorId: string, start: () => Promise<void>): void {
    this.holdSlot(connectorId, 1);
    const tracked = runInWorkSlot(this.slot(connectorId), start).catch((error) =>
      this.o.logger.error({ err: error }, 'job processing failed unexpectedly'),
    );
    const entry = tracked.finally(() => {
      this.inFlight.delete(entry);
      this.holdSlot(connectorId, -1);
      this.slotFreed();
    });
    this.inFlight.add(entry);
  }

  private holdSlot(connectorId: string, change: 1 | -1): void {
    const held = (this.slotsHeld.get(connectorId) ?? 0) + change;
    if (held === 0) this.slotsHeld.delete(connectorId);
    else this.slotsHeld.set(connectorId, held);
  }

  /** A slot came free (a job ended, or stepped out to wait): claim again once enough are. */
  private slotFreed(): void {
    if (this.freeSlots() >= this.claimAtFree()) {
      this.slotsFreed = true;
      this.wake?.('slots');
    }
  }

  /**
   * What a delivery sees of its slot: it may wait for its pace lane outside it while fewer than
   * `maxParked` jobs do, and takes a slot again when the wait ends, even beyond `concurrency`
   * for a moment (the job is claimed already; the next claim waits until slots are free again).
   */
  private slot(connectorId: string): WorkSlot {
    return {
      canPark: () => this.parkedJobs < this.maxParked,
      parked: async (wait) => {
        if (this.parkedJobs >= this.maxParked) return wait();
        this.parkedJobs++;
        this.holdSlot(connectorId, -1);
        this.o.metrics.increment('worker_parked_total', { connector: connectorId });
        this.slotFreed();
        try {
          return await wait();
        } finally {
          this.parkedJobs--;
          this.holdSlot(connectorId, 1);
        }
      },
    };
  }

  /** A single job is a batch of one: the same path, the same settling. */
  private async process(job: Job): Promise<void> {
    const started = this.o.now();
    await this.processBatch(job.workspaceId, job.connectorId, [job]);
    this.o.metrics.observe('job_run_seconds', (this.o.now() - started) / 1000, {
      connector: job.connectorId,
    });
  }

  /**
   * Delivers claimed jobs of one workspace and connector under their leases: hydrates each,
   * hands the live ones to the connector (`deliverBatch` when it has one, else `deliver` each),
   * and settles every job with its own outcome. A job whose entity is gone, or whose connector is
   * no longer enabled, completes without a delivery.
   */
  private async processBatch(workspaceId: string, connectorId: string, jobs: Job[]): Promise<void> {
    const [first] = jobs;
    const logger = lazyChild(this.o.logger, {
      ...(jobs.length === 1 && first ? { job: first.id } : { batch: jobs.length }),
      workspace: workspaceId,
      connector: connectorId,
    });
    await this.withLease(jobs, logger, async (signal) => {
      try {
        const instance = await this.o.host.instance(workspaceId, connectorId);
        if (!instance) logger.info({ jobs: jobs.length }, 'connector no longer enabled; job dropped');
        const shows = this.o.host.registry.get(connectorId)?.capabilities.statuses;
        const items: { job: Job; item: BatchItem<JobEvent> | null; skipped: SkipReason | null }[] = [];
        // A batch's events are read at once, and its skipped jobs settled at once (below): the store
        // takes calls made together in one round trip, where one after another a batch of 100
        // cost 200 of them, most of a HubSpot batch's time in a campaign's status storm (HubSpot
        // shows only failures, so nearly every status job there is skipped).
        const events = instance ? await Promise.all(jobs.map((job) => this.hydrate(job))) : [];
        for (const [index, job] of jobs.entries()) {
          const event = events[index] ?? null;
          let skipped: SkipReason | null = null;
          if (!instance) skipped = 'disabled';
          else if (!event) {
            skipped = 'superseded';
            logger.debug(
              { job: job.id, entity: job.entityId },
              'nothing left to deliver (entity gone, or a newer status is queued)',
            );
          } else if (event.type === 'message.status' && shows && !shows.includes(event.status.status))
            skipped = 'not_shown';
          items.push({
            job,
            item: event && !skipped ? { event, ctx: this.context(job, signal, logger) } : null,
            skipped,
          });
        }
        const live = items.filter(
          (i): i is { job: Job; item: BatchItem<JobEvent>; skipped: null } => i.item !== null,
        );
        await Promise.all(
          items.flatMap(({ job, skipped }) => (skipped ? [this.complete(job, [], logger, skipped)] : [])),
        );
        if (live.length === 0 || !instance) return;
        let outcomes: Awaited<ReturnType<NonNullable<typeof instance.deliverBatch>>>;
        try {
          outcomes = instance.deliverBatch
            ? await instance.deliverBatch(live.map((l) => l.item))
            : await Promise.all(
                live.map(async (l) => {
                  try {
                    return { ok: true as const, result: await instance.deliver(l.item.event, l.item.ctx) };
                  } catch (error) {
                    return { ok: false as const, error };
                  }
                }),
              );
        } catch (error) {
          outcomes = live.map(() => ({ ok: false as const, error }));
        }
        for (const [index, { job }] of live.entries()) {
          const outcome = outcomes[index] ?? {
            ok: false as const,
            error: new Error('connector returned no outcome'),
          };
          if (outcome.ok) {
            await this.complete(
              job,
              (outcome.result.refs ?? []).map((ref) => ({ ...ref, connectorId })),
              logger,
            );
          } else {
            await this.fail(job, toWabridgeError(outcome.error), logger);
          }
        }
      } catch (error) {
        for (const job of jobs) await this.fail(job, toWabridgeError(error), logger);
      }
    });
  }

  /** One store call where the store can build the event itself (see hydrateJob). */
  private hydrate(job: Job): Promise<JobEvent | null> {
    return hydrateJob(this.o.store, job, this.o.now());
  }

  private context(job: Job, signal: AbortSignal, logger: Logger): DeliveryContext {
    return deliveryContext(this.o.store, job, signal, logger, this.o.host.registry.list());
  }

  /**
   * Runs work under the leases of its jobs (one, or a batch): heartbeats keep the leases, a lost
   * lease or the delivery timeout aborts the work, and stopping the worker aborts it too.
   */
  private async withLease(
    jobs: readonly Job[],
    logger: Logger,
    work: (signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    const controller = new AbortController();
    this.controllers.add(controller);
    const timeout = setTimeout(
      () => controller.abort(new Error('delivery timed out')),
      this.o.deliveryTimeoutMs,
    );
    const heartbeat = this.heartbeat(jobs, controller, logger);
    try {
      await work(controller.signal);
    } finally {
      clearTimeout(timeout);
      clearInterval(heartbeat);
      this.controllers.delete(controller);
    }
  }

  /**
   * Keeps the leases of jobs being delivered, every third of the lease. The same for one job and
   * for a batch: a lease the store says is gone aborts the delivery (another worker owns the job
   * now, and its outcome would be refused anyway). A heartbeat the store cannot answer (SQLITE_BUSY
   * while another process holds the write lock: a backup, a second worker, an sqlite3 shell) is
   * logged and the delivery goes on: the lease may well still be held, the next beat tries again,
   * and if it did lapse the store refuses to settle the job, which is then redone by whoever claims
   * it (connectors deliver idempotently). Without the catch, the rejection would be unhandled and
   * would end the process.
   */
  private heartbeat(jobs: readonly Job[], controller: AbortController, logger: Logger): NodeJS.Timeout {
    return setInterval(() => {
      for (const job of jobs) {
        this.o.store.extendLease(job.lease, this.o.now() + this.o.leaseMs).then(
          (held) => {
            if (!held) controller.abort(new Error('lease lost'));
          },
          (error: unknown) => {
            const { code, message } = toWabridgeError(error);
            logger.warn({ job: job.id, code, reason: message }, 'lease heartbeat failed; will try again');
          },
        );
      }
    }, this.o.leaseMs / 3);
  }

  /** Settles a job that ran, or (`skipped`) one completed without calling the connector. */
  private async complete(job: Job, refs: ExternalRef[], logger: Logger, skipped?: SkipReason): Promise<void> {
    const held = await this.o.store.completeJob(job.lease, refs);
    if (!held) {
      logger.warn({}, 'job finished after its lease was lost; another worker owns it now');
      return;
    }
    if (skipped) {
      // Not a delivery: a status storm's deliveries are counted by jobs_delivered_total alone.
      this.o.metrics.increment('jobs_skipped_total', {
        connector: job.connectorId,
        event: job.eventType,
        reason: skipped,
      });
      return;
    }
    this.o.metrics.increment('jobs_delivered_total', { connector: job.connectorId, event: job.eventType });
    this.o.metrics.observe('delivery_latency_seconds', Math.max(0, this.o.now() - job.createdAt) / 1000, {
      connector: job.connectorId,
    });
  }

  private async fail(job: Job, error: WabridgeError, logger: Logger): Promise<void> {
    const reason = `${error.code}: ${error.message}`;
    // Rate limits and quotas are the platform asking us to wait, not the job failing.
    const waitOnly = error.code === 'rate_limited' || error.code === 'daily_quota';
    const exhausted = !waitOnly && job.attempts >= this.o.backoff.maxAttempts;
    if (!error.retryable || exhausted) {
      const held = await this.o.store.deadLetterJob(
        job.lease,
        exhausted ? `gave up after ${job.attempts} attempts: ${reason}` : reason,
      );
      if (held) {
        this.o.metrics.increment('jobs_dead_total', { connector: job.connectorId, code: error.code });
        logger.error(
          { code: error.code, attempts: job.attempts, details: error.details },
          'job dead-lettered',
        );
      }
      return;
    }
    const delay = error.retryAfterMs ?? backoffDelay(job.attempts, this.o.backoff, this.o.random);
    const held = await this.o.store.retryJob(job.lease, {
      runAt: this.o.now() + delay,
      error: reason,
      countAttempt: !waitOnly,
    });
    if (held) {
      this.o.metrics.increment('jobs_retried_total', { connector: job.connectorId, code: error.code });
      logger.warn(
        { code: error.code, attempts: job.attempts, retryInMs: delay },
        'delivery failed; will retry',
      );
    }
  }

  private async maintain(): Promise<void> {
    if (!this.running) return;
    try {
      const until = this.o.now() + this.o.maintenanceIntervalMs * 2;
      if (await this.o.store.tryAcquireLease('connector-maintenance', this.workerId, until)) {
        await this.exclusive('connector-maintenance', (signal) => this.o.host.maintainAll(signal));
      }
    } catch (error) {
      this.o.logger.error({ err: error }, 'maintenance failed');
    }
    await this.runUpkeep();
  }

  /**
   * Runs singleton work. The lease says whose turn it is (and how often); on a store several
   * processes share, the work also runs under the store's exclusive lock, so a run that outlasts
   * its lease (a long retention purge) never overlaps the next holder's, and a crashed holder's
   * lock goes with its connection. Answers whether it ran.
   */
  private async exclusive(name: string, work: (signal: AbortSignal) => Promise<void>): Promise<boolean> {
    const { store } = this.o;
    if (!store.runExclusive) {
      await work(new AbortController().signal);
      return true;
    }
    const outcome = await store.runExclusive(name, work);
    if (!outcome.ran) this.o.logger.debug({ work: name }, 'still running in another process; skipped');
    return outcome.ran;
  }

  private async runUpkeep(): Promise<void> {
    const now = this.o.now();
    if (!this.o.upkeep || now - this.upkeepAt < this.o.upkeepIntervalMs) return;
    try {
      // Held for the whole interval: another worker finds it taken and leaves the run to this one.
      if (
        await this.o.store.tryAcquireLease('archive-upkeep', this.workerId, now + this.o.upkeepIntervalMs)
      ) {
        const upkeep = this.o.upkeep;
        const before = this.upkeepAt;
        this.upkeepAt = now;
        // Refused only while a run that outlasted its lease goes on elsewhere: the lease is ours
        // now, so the next tick tries again.
        if (!(await this.exclusive('archive-upkeep', (signal) => upkeep(now, signal))))
          this.upkeepAt = before;
      }
    } catch (error) {
      this.o.logger.error({ err: error }, 'archive upkeep failed');
    }
  }
}

/**
 * The context a connector gets for one attempt of one job. `connectors`: the registered ones,
 * whose published links `ctx.links.list` looks up and whose names `ctx.platformName` gives.
 */
export function deliveryContext(
  store: Pick<JobStore, 'checkpointRef'> & RefStore,
  job: Job,
  signal: AbortSignal,
  logger: Logger,
  connectors: readonly { id: string; displayName: string }[] = [],
): DeliveryContext {
  const refs: RefAccess = {
    get: (kind, entityId, connectorId = job.connectorId) =>
      store.getRef(job.workspaceId, connectorId, kind, entityId),
    checkpoint: async (ref) => {
      const held = await store.checkpointRef(job.lease, job.workspaceId, {
        ...ref,
        connectorId: job.connectorId,
      });
      if (!held) throw new WabridgeError('stale_lease', `job ${job.id} is no longer held by this worker`);
    },
  };
  return {
    idempotencyKey: `${job.eventType}:${job.entityId}:${job.connectorId}`,
    attempt: job.attempts,
    logger,
    signal,
    refs,
    links: linkAccess(
      store,
      refs,
      job.workspaceId,
      job.connectorId,
      connectors.map((c) => c.id),
    ),
    platformName: (connectorId) => connectors.find((c) => c.id === connectorId)?.displayName,
  };
}
