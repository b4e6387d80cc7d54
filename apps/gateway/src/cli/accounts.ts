import { readFileSync } from 'node:fs';
import { isWorkspaceRole, WabridgeError, WORKSPACE_ROLES } from '@wabridge/core';
import { withRuntime } from './admin.ts';
import { err, out, table } from './output.ts';
import { type CommandInput, UsageError } from './parse.ts';

const actor = () => `cli:${process.env.USER ?? 'unknown'}`;
const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * The new account's password: from the environment variable named by --password-env, else from
 * standard input (typed without echo on a terminal, asked twice; the first line when piped).
 * Never from the command line, where `ps` and the shell history would keep it.
 */
async function readPassword(values: CommandInput['values']): Promise<string> {
  const variable = str(values['password-env']);
  if (variable !== undefined) {
    const value = process.env[variable];
    if (!value) throw new UsageError(`--password-env ${variable}: that environment variable is not set`);
    return value;
  }
  if (!process.stdin.isTTY) return (readFileSync(0, 'utf8').split(/\r?\n/)[0] ?? '').trim();
  const first = await promptHidden('password: ');
  const second = await promptHidden('again: ');
  if (first !== second) throw new UsageError('the two passwords differ');
  return first;
}

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    process.stderr.write(question);
    input.setRawMode(true);
    input.resume();
    let typed = '';
    const done = (error?: Error) => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error);
      else resolve(typed);
    };
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return done();
        if (char === '\u0003') return done(new UsageError('cancelled'));
        if (char === '\u007f') typed = typed.slice(0, -1);
        else typed += char;
      }
    };
    input.on('data', onData);
  });
}

/** `wabridge admin create-owner <email>` (and `create-account`): the first owner opens the console. */
export async function createAccount(
  owner: boolean,
  { env, values, positionals }: CommandInput,
): Promise<void> {
  const [email = ''] = positionals;
  const password = await readPassword(values);
  await withRuntime(env(), async ({ access }) => {
    const account = await access.createAccount(actor(), {
      email,
      name: str(values.name) ?? email,
      password,
      owner,
    });
    out(`created ${owner ? 'owner' : 'account'} ${account.email} (${account.id})`);
    if (!owner) err(`grant it a role: wabridge admin grant ${account.email} <workspace> <role>`);
  });
}

export async function accountList({ env }: CommandInput): Promise<void> {
  await withRuntime(env(), async ({ access, store }) => {
    const accounts = await access.listAccounts();
    const grants = await store.listAdminGrants({});
    out(
      accounts.length === 0
        ? 'no accounts yet (wabridge admin create-owner <email>)'
        : table(
            accounts.map((a) => ({
              email: a.email,
              name: a.name,
              owner: a.owner,
              roles: grants
                .filter((g) => g.accountId === a.id)
                .map((g) => `${g.workspaceId}:${g.role}`)
                .join(','),
              disabled: a.disabledAt === null ? '' : new Date(a.disabledAt).toISOString(),
            })),
          ),
    );
  });
}

/** `wabridge admin grant <email> <workspace> <role|none>` */
export async function accountGrant({ env, positionals }: CommandInput): Promise<void> {
  const [email = '', workspaceId = '', role = ''] = positionals;
  if (role !== 'none' && !isWorkspaceRole(role))
    throw new UsageError(`role: one of ${WORKSPACE_ROLES.join(', ')}, or none to revoke (got ${role})`);
  await withRuntime(env(), async ({ access, store }) => {
    const account = await store.findAdminAccountByEmail(email);
    if (!account)
      throw new WabridgeError('not_found', `no account has the email ${email} (wabridge admin list)`);
    await access.setGrant(actor(), {
      accountId: account.id,
      workspaceId,
      role: role === 'none' ? null : role,
    });
    out(
      role === 'none'
        ? `${email} has no role in ${workspaceId} now`
        : `${email} is ${role} in ${workspaceId}`,
    );
  });
}
