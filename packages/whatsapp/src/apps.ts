import type { SecretBox, Store, WhatsAppNumberCredentials } from '@wabridge/core';
import { type AuditActor, auditEntry, WabridgeError } from '@wabridge/core';

/** The environment's app (WHATSAPP_APP_SECRET, …): the one every number without credentials uses. */
export const DEFAULT_APP = 'default';

/** An app whose webhooks the gateway accepts: its secrets and its own verify token, if any. */
export interface WebhookApp {
  /** A Meta app id, or DEFAULT_APP for the environment's app. */
  appId: string;
  secrets: string[];
  verifyToken: string | null;
}

/** One consistent look at the apps, for one webhook request. */
export interface WebhookView {
  apps: readonly WebhookApp[];
  app(appId: string): WebhookApp | undefined;
  /** See WhatsAppApps.ownerOf. */
  ownerOf(phoneNumberId: string): string | null;
  /**
   * Every app that ownerOf answers for some number. When it holds no app but the signer, no
   * number can be refused for its signer, so the edge need not read the numbers in the body.
   */
  owners: ReadonlySet<string>;
}

/** A number's own app, WABA and token (numbers without them use the environment's). */
export interface NumberCredentials {
  phoneNumberId: string;
  workspaceId: string;
  appId: string;
  wabaId: string;
  accessToken: string;
}

/** A registered app as shown to admins: no secret, only how many there are. */
export interface WhatsAppAppSummary {
  appId: string;
  name: string | null;
  secrets: number;
  verifyToken: boolean;
  numbers: string[];
}

/** A number's credentials as shown to admins: the token masked. */
export interface NumberCredentialsSummary {
  phoneNumberId: string;
  workspaceId: string;
  appId: string;
  wabaId: string;
  accessToken: string;
}

interface Snapshot {
  version: number;
  apps: WebhookApp[];
  numbers: Map<string, NumberCredentials>;
  /** Every number some workspace routes. */
  routed: Set<string>;
  /** WebhookView.owners, made once per snapshot rather than per request. */
  owners: Set<string>;
}

const DIGITS = /^\d+$/;

/**
 * Meta apps and per-number credentials (issue 20, item 4): several apps in one deployment, each
 * number signed by its own app and sending with its own token. The environment's secrets and token
 * stay the default app, so a deployment without registered apps behaves as before. Lookups read a
 * decrypted snapshot that is rebuilt whenever the store's config version moves.
 */
export class WhatsAppApps {
  private readonly store: Store;
  private readonly box: SecretBox;
  private readonly defaults: { secrets: readonly string[]; verifyToken: string | null };
  private readonly now: () => number;
  private readonly probeToken:
    | ((input: { phoneNumberId: string; wabaId: string; accessToken: string }) => Promise<string | null>)
    | undefined;
  private snapshot: Snapshot | null = null;
  /** When the snapshot's version was last compared with the store's (monotonic ms). */
  private checkedAt = Number.NEGATIVE_INFINITY;
  private loading: Promise<Snapshot> | null = null;
  private readonly checkEveryMs: number;

  constructor(options: {
    store: Store;
    secrets: SecretBox;
    /** The environment's app: WHATSAPP_APP_SECRET (list) and WHATSAPP_VERIFY_TOKEN. */
    defaults: { secrets?: readonly string[]; verifyToken?: string | null };
    /**
     * Tries a number's token against the Cloud API before it is stored; resolves to null when the
     * token reaches the number, else one line saying what is wrong. Without it, tokens are only
     * checked for shape.
     */
    probeToken?: (input: {
      phoneNumberId: string;
      wabaId: string;
      accessToken: string;
    }) => Promise<string | null>;
    now?: () => number;
    /**
     * How often a lookup compares the snapshot's version with the store's (default 1 s). Each
     * comparison is a store call, and the webhook edge must not pay one per request, nor wait
     * for one: a lookup past the interval answers from the snapshot and starts the comparison.
     * A refusal looks again at once (`webhookView({ fresh: true })`), so a change made by another
     * process is never the reason a webhook is refused, only possibly accepted for up to this
     * long (and one store call) after an app was removed.
     */
    checkEveryMs?: number;
  }) {
    this.checkEveryMs = options.checkEveryMs ?? 1000;
    this.probeToken = options.probeToken;
    this.store = options.store;
    this.box = options.secrets;
    this.defaults = {
      secrets: options.defaults.secrets ?? [],
      verifyToken: options.defaults.verifyToken ?? null,
    };
    this.now = options.now ?? Date.now;
  }

  // --- Administration ----------------------------------------------------------------------

  async addApp(
    actor: AuditActor,
    input: { appId: string; secrets: readonly string[]; verifyToken?: string | null; name?: string | null },
  ): Promise<void> {
    if (!DIGITS.test(input.appId))
      throw new WabridgeError('bad_request', `Meta app id "${input.appId}" must be digits (the App ID)`);
    if (input.appId === DEFAULT_APP) throw new WabridgeError('bad_request', 'that app id is reserved');
    const secrets = input.secrets.map((s) => s.trim());
    if (secrets.length === 0 || secrets.some((s) => s === ''))
      throw new WabridgeError('bad_request', `Meta app ${input.appId} needs a non-empty app secret`);
    // Meta's app secrets are 32 hex characters; a pasted token or id is caught here, not at the
    // first webhook.
    const wrong = secrets.find((s) => !/^[0-9a-f]{32}$/i.test(s));
    if (wrong !== undefined)
      throw new WabridgeError(
        'bad_request',
        `an app secret is 32 hexadecimal characters (App settings > Basic); this one has ${wrong.length} characters${/^[0-9a-f]+$/i.test(wrong) ? '' : ' and other characters'}`,
      );
    const verifyToken = input.verifyToken?.trim() || null;
    const existing = (await this.store.listWhatsAppApps()).some((a) => a.appId === input.appId);
    await this.store.putWhatsAppApp({
      appId: input.appId,
      name: input.name?.trim() || null,
      secretsEnc: this.box.encrypt(JSON.stringify(secrets)),
      verifyTokenEnc: verifyToken ? this.box.encrypt(verifyToken) : null,
      updatedAt: this.now(),
    });
    await this.store.appendAudit(
      auditEntry(actor, existing ? 'whatsapp.app.update' : 'whatsapp.app.add', null, {
        appId: input.appId,
        secrets: secrets.length,
        verifyToken: verifyToken !== null,
      }),
    );
    this.snapshot = null;
  }

  async removeApp(actor: AuditActor, appId: string): Promise<void> {
    await this.store.removeWhatsAppApp(appId);
    await this.store.appendAudit(auditEntry(actor, 'whatsapp.app.remove', null, { appId }));
    this.snapshot = null;
  }

  async listApps(): Promise<WhatsAppAppSummary[]> {
    const [apps, numbers] = await Promise.all([
      this.store.listWhatsAppApps(),
      this.store.listNumberCredentials(),
    ]);
    return apps.map((app) => ({
      appId: app.appId,
      name: app.name,
      secrets: (JSON.parse(this.box.decrypt(app.secretsEnc)) as string[]).length,
      verifyToken: app.verifyTokenEnc !== null,
      numbers: numbers.filter((n) => n.appId === app.appId).map((n) => n.phoneNumberId),
    }));
  }

  /** Gives a number of `workspaceId` its own app, WABA and access token. */
  async setNumberCredentials(
    actor: AuditActor,
    workspaceId: string,
    phoneNumberId: string,
    input: { appId: string; wabaId: string; accessToken: string },
  ): Promise<void> {
    if (!DIGITS.test(input.wabaId))
      throw new WabridgeError(
        'bad_request',
        `WABA id "${input.wabaId}" must be digits (the WhatsApp Business Account id)`,
      );
    const token = input.accessToken.trim();
    // Graph tokens are long opaque strings without spaces; a short one is a paste mistake.
    if (token.length < 20 || /\s/.test(token))
      throw new WabridgeError(
        'bad_request',
        'the access token looks wrong: a Meta system-user token is one word of at least 20 characters',
      );
    // The store enforces both; checked here first so the token is only tried for a valid pair.
    if (!(await this.store.listPhoneNumbers(workspaceId)).some((n) => n.phoneNumberId === phoneNumberId))
      throw new WabridgeError(
        'not_found',
        `number ${phoneNumberId} is not in workspace ${workspaceId} (add it first)`,
        { status: 404 },
      );
    if (!(await this.store.listWhatsAppApps()).some((a) => a.appId === input.appId))
      throw new WabridgeError(
        'not_found',
        `Meta app ${input.appId} is not registered (wabridge whatsapp add-app ${input.appId} --secret-env VAR)`,
        { status: 404 },
      );
    const problem = await this.probeToken?.({ phoneNumberId, wabaId: input.wabaId, accessToken: token });
    if (problem) throw new WabridgeError('bad_request', problem);
    const existing = (await this.store.listNumberCredentials(workspaceId)).some(
      (n) => n.phoneNumberId === phoneNumberId,
    );
    await this.store.setNumberCredentials({
      phoneNumberId,
      workspaceId,
      appId: input.appId,
      wabaId: input.wabaId,
      accessTokenEnc: this.box.encrypt(token),
      updatedAt: this.now(),
    });
    await this.store.appendAudit(
      auditEntry(actor, existing ? 'number.credentials.update' : 'number.credentials.set', workspaceId, {
        phoneNumberId,
        appId: input.appId,
        wabaId: input.wabaId,
      }),
    );
    this.snapshot = null;
  }

  async removeNumberCredentials(
    actor: AuditActor,
    workspaceId: string,
    phoneNumberId: string,
  ): Promise<void> {
    const removed = await this.store.removeNumberCredentials(workspaceId, phoneNumberId);
    if (!removed)
      throw new WabridgeError(
        'not_found',
        `number ${phoneNumberId} of ${workspaceId} has no credentials of its own`,
        {
          status: 404,
        },
      );
    await this.store.appendAudit(
      auditEntry(actor, 'number.credentials.remove', workspaceId, { phoneNumberId }),
    );
    this.snapshot = null;
  }

  async listNumberCredentials(workspaceId: string): Promise<NumberCredentialsSummary[]> {
    return (await this.store.listNumberCredentials(workspaceId)).map((n) => ({
      phoneNumberId: n.phoneNumberId,
      workspaceId: n.workspaceId,
      appId: n.appId,
      wabaId: n.wabaId,
      accessToken: maskToken(this.box.decrypt(n.accessTokenEnc)),
    }));
  }

  /**
   * Re-encrypts app secrets, verify tokens and number tokens still under an older master key
   * (`wabridge secrets rotate`); returns how many apps and numbers were rewritten.
   */
  async rotateSecrets(actor: AuditActor): Promise<number> {
    const stale = (ciphertext: string | null) => ciphertext !== null && this.box.needsRotation(ciphertext);
    const again = (ciphertext: string) => this.box.encrypt(this.box.decrypt(ciphertext));
    let rotated = 0;
    for (const app of await this.store.listWhatsAppApps()) {
      if (!stale(app.secretsEnc) && !stale(app.verifyTokenEnc)) continue;
      await this.store.putWhatsAppApp({
        appId: app.appId,
        name: app.name,
        secretsEnc: again(app.secretsEnc),
        verifyTokenEnc: app.verifyTokenEnc === null ? null : again(app.verifyTokenEnc),
        updatedAt: app.updatedAt,
      });
      rotated++;
    }
    for (const number of await this.store.listNumberCredentials()) {
      if (!stale(number.accessTokenEnc)) continue;
      await this.store.setNumberCredentials({ ...number, accessTokenEnc: again(number.accessTokenEnc) });
      rotated++;
    }
    await this.store.appendAudit(
      auditEntry(actor, 'whatsapp.secrets.rotate', null, { rotated, keyId: this.box.keyId }),
    );
    this.snapshot = null;
    return rotated;
  }

  // --- Lookups (webhook edge and sender) -------------------------------------------------------

  /**
   * What the webhook edge needs for one request, read once (one look at the config version):
   * the apps it accepts and who owns each number.
   */
  async webhookView(options: { fresh?: boolean } = {}): Promise<WebhookView> {
    const snapshot = await this.current(options.fresh === true);
    const hasDefault = this.defaults.secrets.length > 0;
    return {
      apps: snapshot.apps,
      owners: snapshot.owners,
      app: (appId) => snapshot.apps.find((a) => a.appId === appId),
      ownerOf: (phoneNumberId) => {
        const own = snapshot.numbers.get(phoneNumberId);
        if (own) return own.appId;
        return snapshot.routed.has(phoneNumberId) && hasDefault ? DEFAULT_APP : null;
      },
    };
  }

  /** Every app whose webhooks are accepted: the environment's (when it has secrets) first. */
  async webhookApps(): Promise<readonly WebhookApp[]> {
    return (await this.webhookView()).apps;
  }

  /** One app by id (DEFAULT_APP for the environment's), or undefined when unknown. */
  async webhookApp(appId: string): Promise<WebhookApp | undefined> {
    return (await this.webhookView()).app(appId);
  }

  /** The number's own credentials, or null when it uses the environment's app and token. */
  async credentialsFor(phoneNumberId: string): Promise<NumberCredentials | null> {
    // Always compared with the store's version: a send must not use a token removed a moment ago.
    return (await this.current(true)).numbers.get(phoneNumberId) ?? null;
  }

  /**
   * The app whose signature a webhook about this number must carry: the number's own app, else
   * the environment's for a routed number (when it has secrets). Null for a number no workspace
   * routes (it goes to the unrouted list whoever signed it) or when no default app exists.
   */
  async ownerOf(phoneNumberId: string): Promise<string | null> {
    return (await this.webhookView()).ownerOf(phoneNumberId);
  }

  /** Forgets the snapshot (the next lookup reads the store). */
  invalidate(): void {
    this.snapshot = null;
  }

  private async current(fresh = false): Promise<Snapshot> {
    if (!fresh && this.snapshot) {
      // A stale snapshot still answers: the check starts now and the next lookup sees its result.
      // Waiting for it made every webhook arriving meanwhile hold its body in the edge's gate
      // until the store thread answered (behind a group commit), and at 200 connections the gate
      // (64 bodies) filled and refused some each second. A refusal still looks fresh.
      if (performance.now() - this.checkedAt >= this.checkEveryMs) this.reload().catch(() => {});
      return this.snapshot;
    }
    // One load at a time; a fresh look waits for one in flight and then starts its own, since the
    // one in flight may have read the version before the change it must see.
    if (fresh && this.loading) await this.loading.catch(() => {});
    return this.reload();
  }

  /** The load in flight, or a new one. */
  private reload(): Promise<Snapshot> {
    if (!this.loading) {
      this.loading = this.load().finally(() => {
        this.loading = null;
      });
    }
    return this.loading;
  }

  private async load(): Promise<Snapshot> {
    const checkedAt = performance.now();
    const version = await this.store.configVersion();
    if (this.snapshot?.version === version) {
      this.checkedAt = checkedAt;
      return this.snapshot;
    }
    const [apps, numbers, routed] = await Promise.all([
      this.store.listWhatsAppApps(),
      this.store.listNumberCredentials(),
      this.store.listPhoneNumbers(),
    ]);
    const webhookApps: WebhookApp[] = [];
    if (this.defaults.secrets.length > 0)
      webhookApps.push({
        appId: DEFAULT_APP,
        secrets: [...this.defaults.secrets],
        verifyToken: this.defaults.verifyToken,
      });
    for (const app of apps) {
      webhookApps.push({
        appId: app.appId,
        secrets: JSON.parse(this.box.decrypt(app.secretsEnc)) as string[],
        verifyToken: app.verifyTokenEnc ? this.box.decrypt(app.verifyTokenEnc) : null,
      });
    }
    const own = new Map(numbers.map((n) => [n.phoneNumberId, this.decrypted(n)]));
    // The same answers as ownerOf's, over every number it knows.
    const owners = new Set(numbers.map((n) => n.appId));
    if (this.defaults.secrets.length > 0 && routed.some((n) => !own.has(n.phoneNumberId)))
      owners.add(DEFAULT_APP);
    const snapshot: Snapshot = {
      version,
      apps: webhookApps,
      numbers: own,
      routed: new Set(routed.map((n) => n.phoneNumberId)),
      owners,
    };
    this.snapshot = snapshot;
    this.checkedAt = checkedAt;
    return snapshot;
  }

  private decrypted(n: WhatsAppNumberCredentials): NumberCredentials {
    return {
      phoneNumberId: n.phoneNumberId,
      workspaceId: n.workspaceId,
      appId: n.appId,
      wabaId: n.wabaId,
      accessToken: this.box.decrypt(n.accessTokenEnc),
    };
  }
}

/** The first and last 4 characters only. */
export function maskToken(token: string): string {
  return token.length <= 12 ? '••••' : `${token.slice(0, 4)}…${token.slice(-4)}`;
}
