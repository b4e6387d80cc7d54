/**
 * One-time sign-in of the Teams service account, to get the refresh token the connector starts
 * from (and again whenever wabridge says re-consent is needed). See docs/connectors/teams.md.
 *
 *   TEAMS_TENANT_ID=… TEAMS_CLIENT_ID=… TEAMS_CLIENT_SECRET=… \
 *     node packages/connector-teams/bin/sign-in.ts [--port 5177] [--authority-host https://login.microsoftonline.us] [--graph-resource https://graph.microsoft.us]
 *
 * Open the printed address in a private browser window and sign in *as the service account*.
 * The secret comes from the environment, never from the command line (shell history).
 */
import { parseArgs } from 'node:util';
import { signInServiceAccount } from '../src/auth/sign-in.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '5177' },
    'authority-host': { type: 'string' },
    'graph-resource': { type: 'string' },
  },
});
const env = (name: string) => {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`${name} is not set\n`);
    process.exit(2);
  }
  return value;
};
const out = (line: string) => process.stdout.write(`${line}\n`);

const result = await signInServiceAccount({
  tenantId: env('TEAMS_TENANT_ID'),
  clientId: env('TEAMS_CLIENT_ID'),
  clientSecret: env('TEAMS_CLIENT_SECRET'),
  port: Number(values.port),
  ...(values['authority-host'] ? { authorityHost: values['authority-host'] } : {}),
  ...(values['graph-resource'] ? { graphResource: values['graph-resource'] } : {}),
  open: (url) => {
    out('Open this address in a private browser window and sign in as the Teams service account:');
    out(`\n  ${url}\n`);
    out('Waiting for the sign-in…');
  },
});
out(`\nSigned in as ${result.username ?? result.accountId} (object id ${result.accountId}).`);
out('Store the refresh token on the connector (it is kept encrypted), for example:');
out(`\n  wabridge connector enable <workspace> teams --set refreshToken='${result.refreshToken}'\n`);
out('Then replay the Teams jobs that waited for it: wabridge replay --all --connector teams');
