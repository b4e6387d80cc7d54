import { WabridgeError } from '@wabridge/core';
import { checkNumber, DEFAULT_APP, type NumberCheck } from '@wabridge/whatsapp';
import { actor, noWorkspace, str, withRuntime } from './admin.ts';
import { out, table } from './output.ts';
import { type CommandInput, UsageError } from './parse.ts';

/**
 * Meta apps and per-number credentials (`wabridge whatsapp …`, `wabridge number …`). Secrets come
 * from environment variables named on the command line, never from the command line itself.
 */

/** The value of the environment variable an option names; a usage error when unset. */
function fromEnv(option: string, variable: string | undefined, required: boolean): string | undefined {
  if (variable === undefined) {
    if (required)
      throw new UsageError(`--${option} <NAME> is required (the environment variable holding it)`);
    return undefined;
  }
  const value = process.env[variable];
  if (!value) throw new UsageError(`--${option} ${variable}: that environment variable is not set`);
  return value;
}

export async function whatsappAddApp({ env, values, positionals }: CommandInput): Promise<void> {
  const [appId = ''] = positionals;
  // A comma list during a rotation, as WHATSAPP_APP_SECRET.
  const secrets = (fromEnv('secret-env', str(values['secret-env']), true) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const verifyToken = fromEnv('verify-token-env', str(values['verify-token-env']), false) ?? null;
  await withRuntime(env(), async ({ whatsappApps }) => {
    await whatsappApps.addApp(actor(), { appId, secrets, verifyToken, name: str(values.name) ?? null });
    out(`Meta app ${appId} registered; its webhook URL is <PUBLIC_URL>/webhooks/whatsapp/${appId}`);
  });
}

export async function whatsappRemoveApp({ env, positionals }: CommandInput): Promise<void> {
  const [appId = ''] = positionals;
  await withRuntime(env(), async ({ whatsappApps }) => {
    await whatsappApps.removeApp(actor(), appId);
    out(`Meta app ${appId} removed`);
  });
}

export async function whatsappApps({ env }: CommandInput): Promise<void> {
  await withRuntime(env(), async ({ whatsappApps, env: e }) => {
    const rows = (await whatsappApps.listApps()).map((a) => ({
      app: a.appId,
      name: a.name ?? '',
      secrets: a.secrets,
      'verify token': a.verifyToken ? 'own' : 'WHATSAPP_VERIFY_TOKEN',
      webhook: `${e.publicUrl}/webhooks/whatsapp/${a.appId}`,
      numbers: a.numbers.join(','),
    }));
    out(
      rows.length > 0 ? table(rows) : 'no Meta apps registered (the environment’s app serves every number)',
    );
  });
}

export async function numberSetCredentials({ env, values, positionals }: CommandInput): Promise<void> {
  const [workspaceId = '', phoneNumberId = ''] = positionals;
  const appId = str(values.app);
  const wabaId = str(values.waba);
  if (!appId) throw new UsageError('--app <app-id> is required (wabridge whatsapp apps lists them)');
  if (!wabaId) throw new UsageError('--waba <id> is required (the WhatsApp Business Account id)');
  const accessToken = fromEnv('token-env', str(values['token-env']), true) ?? '';
  await withRuntime(env(), async ({ whatsappApps, store }) => {
    if (!(await store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
    await whatsappApps.setNumberCredentials(actor(), workspaceId, phoneNumberId, {
      appId,
      wabaId,
      accessToken,
    });
    out(
      `number ${phoneNumberId} of ${workspaceId} now sends with its own token and is signed by Meta app ${appId}`,
    );
  });
}

export async function numberRemoveCredentials({ env, positionals }: CommandInput): Promise<void> {
  const [workspaceId = '', phoneNumberId = ''] = positionals;
  await withRuntime(env(), async ({ whatsappApps }) => {
    await whatsappApps.removeNumberCredentials(actor(), workspaceId, phoneNumberId);
    out(`number ${phoneNumberId} of ${workspaceId} is back on the environment’s app and token`);
  });
}

export async function numberList({ env, positionals }: CommandInput): Promise<void> {
  const [workspaceId = ''] = positionals;
  await withRuntime(env(), async ({ whatsappApps, store }) => {
    if (!(await store.getWorkspace(workspaceId))) throw noWorkspace(workspaceId);
    const own = new Map(
      (await whatsappApps.listNumberCredentials(workspaceId)).map((n) => [n.phoneNumberId, n]),
    );
    const rows = (await store.listPhoneNumbers(workspaceId)).map((n) => {
      const c = own.get(n.phoneNumberId);
      return {
        number: n.phoneNumberId,
        display: n.displayPhoneNumber ?? '',
        waba: c?.wabaId ?? n.wabaId ?? '',
        app: c?.appId ?? DEFAULT_APP,
        token: c?.accessToken ?? 'WHATSAPP_ACCESS_TOKEN',
      };
    });
    out(rows.length > 0 ? table(rows) : `no numbers in ${workspaceId} (wabridge workspace add-number)`);
  });
}

/** Reads the number's profile, quality rating and its WABA's webhook subscription from the Cloud API. */
export async function numberTest({ env, positionals }: CommandInput): Promise<void> {
  const [workspaceId = '', phoneNumberId = ''] = positionals;
  await withRuntime(env(), async ({ whatsappApps, store, cloudApi }) => {
    const number = (await store.listPhoneNumbers(workspaceId)).find((n) => n.phoneNumberId === phoneNumberId);
    if (!number)
      throw new WabridgeError('not_found', `number ${phoneNumberId} is not in workspace ${workspaceId}`, {
        status: 404,
      });
    const own = await whatsappApps.credentialsFor(phoneNumberId);
    const check = await checkNumber(await cloudApi(workspaceId, phoneNumberId), {
      phoneNumberId,
      wabaId: own?.wabaId ?? number.wabaId,
      appId: own?.appId ?? null,
    });
    out(describeCheck(check));
    if (
      !check.profile.ok ||
      (check.subscription && (!check.subscription.ok || check.subscription.subscribed === false))
    )
      process.exitCode = 1;
  });
}

export function describeCheck(check: NumberCheck): string {
  const lines: string[] = [];
  if (check.profile.ok) {
    const p = check.profile.value;
    lines.push(
      `number   ${p.id} ${p.displayPhoneNumber ?? ''} "${p.verifiedName ?? ''}"`,
      `quality  ${p.qualityRating ?? 'unknown'}`,
    );
  } else {
    lines.push(`number   not readable: ${check.profile.error}`);
  }
  const s = check.subscription;
  if (s === null) lines.push('webhooks unknown: the number has no WABA id (set --waba)');
  else if (!s.ok) lines.push(`webhooks WABA ${s.wabaId} not readable: ${s.error}`);
  else {
    const apps = s.apps.map((a) => a.appId).join(', ') || 'none';
    const verdict =
      s.subscribed === null
        ? ''
        : s.subscribed
          ? ' (its app is subscribed)'
          : ' (its app is NOT subscribed: no webhooks will arrive)';
    lines.push(`webhooks WABA ${s.wabaId} sends to apps: ${apps}${verdict}`);
  }
  return lines.join('\n');
}
