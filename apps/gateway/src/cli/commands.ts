import type { Env } from '../env.ts';
import { type CommandInput, type CommandSpec, type Entry, type OptionSpec, UsageError } from './parse.ts';

/**
 * The handlers are loaded when their command runs: the table itself must load fast, since help
 * and usage errors are answered from it alone.
 */
const admin = () => import('./admin.ts');
const accounts = () => import('./accounts.ts');
const exports = () => import('./archive-exports.ts');
const whatsapp = () => import('./whatsapp.ts');
const governance = () => import('./governance.ts');

/** Starts the gateway or the worker (serve.ts and the connectors load only here). */
async function startProcess(input: CommandInput, http: boolean): Promise<void> {
  const [{ closeOnSignals, startServer }, { defaultRegistry }] = await Promise.all([
    import('./serve.ts'),
    import('../connectors.ts'),
  ]);
  const env = input.env();
  const server = await startServer(env, {
    worker: http ? !input.values['no-worker'] && env.WORKER_ENABLED : true,
    http,
    registry: defaultRegistry(),
  });
  // Serving: what this thread runs is loaded. Its compile cache entries (bin/memory.mjs) are
  // written now rather than at exit, which a killed process never reaches. A no-op without one.
  (await import('node:module')).flushCompileCache?.();
  closeOnSignals(server, (m) => server.runtime.logger.info({}, m));
}

const settingsOptions: Record<string, OptionSpec> = {
  config: {
    type: 'string',
    value: "'{json}' | -",
    help: 'settings as JSON; - reads them from standard input',
  },
  'config-file': {
    type: 'string',
    value: '<file> | -',
    help: `settings from a JSON or YAML file; - reads standard input; \${NAME} is filled from the environment`,
  },
  set: { type: 'string', multiple: true, value: 'key=value', help: 'one setting (repeatable)' },
  'set-env': {
    type: 'string',
    multiple: true,
    value: 'key=NAME',
    help: 'one setting from the environment variable NAME (repeatable): keeps secrets off the command line',
  },
};

const SETTINGS_DETAILS = `Settings merge over the stored ones, in this order: --config-file, --config, --set, --set-env.
Give secrets with --config-file, --set-env or \${NAME} (single-quoted, so the shell leaves it):
a value typed on the command line is visible in ps and kept in the shell history.

  wabridge connector enable acme slack --config-file slack.yaml
  wabridge connector enable acme slack --set-env botToken=SLACK_BOT_TOKEN   # exported by your secret store
  wabridge connector enable acme slack --config '{"botToken":"\${SLACK_BOT_TOKEN}"}'`;

const workspaceArg = { name: '<workspace>' };

const ACCOUNT_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  name: { type: 'string', value: '<name>', help: 'the name shown in the console (default: the email)' },
  'password-env': {
    type: 'string',
    value: '<NAME>',
    help: 'read the password from the environment variable NAME instead of standard input',
  },
};

const ACCOUNT_DETAILS = `The password (12 characters or more) is read from standard input: typed without echo on a
terminal, or the first line when piped. It is never an argument, which ps and the shell history keep.

  wabridge admin create-owner ana@example.com --name "Ana"
  printf '%s\\n' "$OWNER_PASSWORD" | wabridge admin create-owner ana@example.com`;
const connectorArg = { name: '<connector>' };

const MIGRATE_DETAILS = `Without --to, applies the store's schema migrations (the gateway also runs them at start).

With --to postgres, copies the SQLite store into a Postgres schema: stop every gateway and worker
first (the copy refuses while any process has the SQLite file open). The schema is migrated, every
table copied and read back, the archive's roots and signed checkpoints compared, all in one
transaction: on any failure nothing is left behind. A schema that already holds a store is refused
unless --force. Keep WABRIDGE_MASTER_KEY: secrets and archive content are copied sealed.

  wabridge migrate --to postgres --database-url postgres://wabridge@db:5432/wabridge --schema wabridge`;

/**
 * Every command of `wabridge`: the help, the parser and the tests read this one table, so a
 * command cannot answer `--help` differently from what it parses.
 */
export const COMMANDS: readonly Entry[] = [
  {
    path: ['serve'],
    summary: 'run the HTTP gateway, with the delivery worker unless --no-worker',
    options: { 'no-worker': { type: 'boolean', help: 'HTTP only; run the worker as its own process' } },
    run: (input) => startProcess(input, true),
  },
  {
    path: ['worker'],
    summary: 'run only the delivery worker',
    run: (input) => startProcess(input, false),
  },
  {
    path: ['migrate'],
    summary: 'create or upgrade the database; --to postgres copies the SQLite store into Postgres',
    details: MIGRATE_DETAILS,
    options: {
      to: {
        type: 'string',
        value: 'postgres',
        help: "copy the stopped SQLite store (WABRIDGE_DATA_DIR's) into Postgres, verified, in one transaction",
      },
      'database-url': {
        type: 'string',
        value: '<postgres://…>',
        help: 'the Postgres to copy into (default: DATABASE_URL)',
      },
      schema: {
        type: 'string',
        value: '<name>',
        help: "the schema to copy into (default: DATABASE_SCHEMA, else the server's search_path)",
      },
      force: { type: 'boolean', help: 'with --to: replace what the Postgres schema already holds' },
    },
    run: async (input) => {
      if (input.values.to === undefined) {
        if (['database-url', 'schema', 'force'].some((option) => input.values[option] !== undefined)) {
          throw new UsageError('--database-url, --schema and --force go with --to postgres');
        }
        return (await admin()).migrateCommand(input);
      }
      await (await import('./migrate-postgres.ts')).migrateToPostgres(input);
    },
  },
  {
    name: 'workspace',
    summary: 'workspaces (tenants): their WhatsApp numbers and policies',
    commands: [
      {
        path: ['workspace', 'create'],
        summary: 'create a workspace',
        details: 'Quote a name with spaces: wabridge workspace create "Acme Support" --id acme',
        arguments: [{ name: '<name>' }],
        options: {
          id: {
            type: 'string',
            value: '<id>',
            help: 'its id (lowercase letters, digits, dashes); generated when absent',
          },
          json: {
            type: 'string',
            value: '<policies>',
            help: 'policies as JSON, e.g. \'{"numberMasking":"last4"}\'',
          },
        },
        run: async (input) => (await admin()).workspaceCreate(input),
      },
      {
        path: ['workspace', 'list'],
        summary: 'list workspaces, their numbers and connectors',
        run: async (input) => (await admin()).workspaceList(input),
      },
      {
        path: ['workspace', 'show'],
        summary: 'a workspace as JSON (secrets masked)',
        arguments: [workspaceArg],
        run: async (input) => (await admin()).workspaceShow(input),
      },
      {
        path: ['workspace', 'add-number'],
        summary: "route a WhatsApp number (Meta's phone_number_id) to a workspace",
        arguments: [workspaceArg, { name: '<phone_number_id>' }],
        options: {
          display: { type: 'string', value: '<+1 555 …>', help: 'the number as people see it' },
          waba: { type: 'string', value: '<id>', help: 'its WhatsApp Business Account id' },
        },
        run: async (input) => (await admin()).workspaceAddNumber(input),
      },
      {
        path: ['workspace', 'remove-number'],
        summary: 'stop routing a number',
        arguments: [{ name: '<phone_number_id>' }],
        run: async (input) => (await admin()).workspaceRemoveNumber(input),
      },
      {
        path: ['workspace', 'policies'],
        summary:
          'change policies (masking, opt-out keywords, templates, reorder window, archiving of internal notes)',
        arguments: [workspaceArg],
        options: {
          json: { type: 'string', value: '<policies>', help: 'the policies to change, as JSON (required)' },
        },
        run: async (input) => (await admin()).workspacePolicies(input),
      },
      {
        path: ['workspace', 'delete'],
        summary: 'delete a workspace and everything it holds',
        arguments: [workspaceArg],
        run: async (input) => (await admin()).workspaceDelete(input),
      },
    ],
  },
  {
    name: 'whatsapp',
    summary: 'Meta apps: each with its own app secret and webhook URL',
    commands: [
      {
        path: ['whatsapp', 'add-app'],
        summary:
          'register a Meta app (or replace its secrets); its webhooks go to /webhooks/whatsapp/<app-id>',
        details: `The app secret (App settings > Basic) is read from an environment variable, never the command line;
a comma list during a rotation. It is stored encrypted and never shown again.

  WA_APP_SECRET=… wabridge whatsapp add-app 1234567890 --secret-env WA_APP_SECRET`,
        arguments: [{ name: '<app-id>' }],
        options: {
          'secret-env': {
            type: 'string',
            value: '<NAME>',
            help: 'environment variable with the app secret (required)',
          },
          'verify-token-env': {
            type: 'string',
            value: '<NAME>',
            help: "environment variable with the app's own hub.verify_token (default WHATSAPP_VERIFY_TOKEN)",
          },
          name: { type: 'string', value: '<name>', help: 'a name to recognise it by' },
        },
        run: async (input) => (await whatsapp()).whatsappAddApp(input),
      },
      {
        path: ['whatsapp', 'remove-app'],
        summary: 'forget a Meta app (refused while a number uses it)',
        arguments: [{ name: '<app-id>' }],
        run: async (input) => (await whatsapp()).whatsappRemoveApp(input),
      },
      {
        path: ['whatsapp', 'apps'],
        summary: 'the registered Meta apps, their webhook URLs and numbers (no secrets)',
        run: async (input) => (await whatsapp()).whatsappApps(input),
      },
    ],
  },
  {
    name: 'number',
    summary: "a workspace's WhatsApp numbers: their own Meta app and token, and a live test",
    commands: [
      {
        path: ['number', 'credentials'],
        summary: 'give a number its own Meta app, WABA and access token',
        details: `The number must be in the workspace (wabridge workspace add-number) and the app registered
(wabridge whatsapp add-app). The token is read from an environment variable and stored encrypted.

  WA_TOKEN=… wabridge number credentials acme 106540352242922 --app 1234567890 --waba 419561257915477 --token-env WA_TOKEN`,
        arguments: [workspaceArg, { name: '<phone_number_id>' }],
        options: {
          app: {
            type: 'string',
            value: '<app-id>',
            help: 'the Meta app whose secret signs its webhooks (required)',
          },
          waba: { type: 'string', value: '<id>', help: 'its WhatsApp Business Account id (required)' },
          'token-env': {
            type: 'string',
            value: '<NAME>',
            help: 'environment variable with its access token (required)',
          },
        },
        run: async (input) => (await whatsapp()).numberSetCredentials(input),
      },
      {
        path: ['number', 'remove-credentials'],
        summary: "put a number back on the environment's app and token",
        arguments: [workspaceArg, { name: '<phone_number_id>' }],
        run: async (input) => (await whatsapp()).numberRemoveCredentials(input),
      },
      {
        path: ['number', 'list'],
        summary: "a workspace's numbers with their app, WABA and token (masked)",
        arguments: [workspaceArg],
        run: async (input) => (await whatsapp()).numberList(input),
      },
      {
        path: ['number', 'test'],
        summary: "read the number's profile and quality rating, and check its WABA's webhook subscription",
        arguments: [workspaceArg, { name: '<phone_number_id>' }],
        run: async (input) => (await whatsapp()).numberTest(input),
      },
    ],
  },
  {
    name: 'connector',
    summary: 'connectors of a workspace: Slack, Microsoft Teams, HubSpot',
    commands: [
      {
        path: ['connector', 'list'],
        summary: 'registered connectors, and where each is set up',
        arguments: [{ name: '[<workspace>]', optional: true }],
        run: async (input) => (await admin()).connectorList(input),
      },
      {
        path: ['connector', 'show'],
        summary: "a connector's settings (secrets masked)",
        arguments: [workspaceArg, connectorArg],
        run: async (input) => (await admin()).connectorShow(input),
      },
      {
        path: ['connector', 'enable'],
        summary: 'enable a connector with its settings (checked whole before anything is stored)',
        details: SETTINGS_DETAILS,
        arguments: [workspaceArg, connectorArg],
        options: settingsOptions,
        run: async (input) => (await admin()).connectorSet(true, input),
      },
      {
        path: ['connector', 'disable'],
        summary: 'disable a connector (its settings are kept)',
        arguments: [workspaceArg, connectorArg],
        options: settingsOptions,
        run: async (input) => (await admin()).connectorSet(false, input),
      },
      {
        path: ['connector', 'connect'],
        summary:
          'print the link to connect Slack ("Add to Slack"), HubSpot (OAuth) or Teams (sign-in) in a browser',
        details:
          'Slack needs PUBLIC_URL, SLACK_CLIENT_ID, SLACK_CLIENT_SECRET and SLACK_STATE_SECRET; HubSpot needs\n' +
          'PUBLIC_URL, HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and HUBSPOT_STATE_SECRET; Teams needs PUBLIC_URL,\n' +
          'TEAMS_CLIENT_ID, TEAMS_CLIENT_SECRET and TEAMS_STATE_SECRET. The link works for one hour;\n' +
          'after Allow, the tokens are stored encrypted and audited (connector.connect).\n' +
          'A workspace without a Slack channel yet needs --channel.\n\n' +
          '  wabridge connector connect acme slack --channel C0123ABCD\n' +
          '  wabridge connector connect acme hubspot\n' +
          '  wabridge connector connect acme teams',
        arguments: [workspaceArg, connectorArg],
        options: {
          channel: {
            type: 'string',
            value: '<C…>',
            help: 'the channel conversations go to (defaultChannel)',
          },
        },
        run: async (input) => (await admin()).connectorConnect(input),
      },
      {
        path: ['connector', 'test'],
        summary: 'check the stored settings against the platform: what works and what to fix, in one line',
        details:
          'Calls the platform, changing nothing there: Slack auth.test and each channel, HubSpot the account\n' +
          'and a contact read, Teams the app sign-in, the service account (/me) and each channel.\n' +
          'Exit status 1 when something does not work.',
        arguments: [workspaceArg, connectorArg],
        options: { json: { type: 'boolean', help: 'the checks as JSON' } },
        run: async (input) => (await admin()).connectorTest(input),
      },
    ],
  },
  {
    path: ['replay'],
    summary: 'list dead-lettered jobs and replay them, or re-ingest unrouted webhook changes',
    options: {
      list: { type: 'boolean', help: 'list dead-lettered jobs with their last error (the default)' },
      all: { type: 'boolean', help: 'replay every dead job (within --workspace/--connector)' },
      id: { type: 'string', multiple: true, value: '<id>', help: 'replay this dead job (repeatable)' },
      workspace: { type: 'string', value: '<workspace>', help: 'only this workspace' },
      connector: { type: 'string', value: '<connector>', help: 'only this connector' },
      unrouted: { type: 'boolean', help: 're-ingest kept changes for numbers a workspace has since claimed' },
    },
    run: async (input) => (await admin()).replayCommand(input),
  },
  {
    path: ['events'],
    summary: 'what Meta sent that is kept as a platform event, newest first',
    options: {
      workspace: { type: 'string', value: '<workspace>', help: 'only this workspace' },
      unassigned: { type: 'boolean', help: 'only events of no workspace (WABA-wide updates)' },
      field: {
        type: 'string',
        value: '<field>',
        help: 'only this webhook field (messages, account_update …)',
      },
      limit: { type: 'string', value: '<n>', help: 'how many (default 50)' },
      all: { type: 'boolean', help: 'every one, page by page' },
      json: { type: 'boolean', help: 'one JSON object per line, payload included' },
    },
    run: async (input) => (await admin()).eventsCommand(input),
  },
  {
    name: 'config',
    summary: 'the declarative configuration file (YAML or JSON)',
    commands: [
      {
        path: ['config', 'check'],
        summary: 'validate a file, changing nothing',
        arguments: [{ name: '<file>' }],
        run: async (input) => (await admin()).configCheck(input),
      },
      {
        path: ['config', 'apply'],
        summary: 'make the store match a file (validated whole first)',
        arguments: [{ name: '<file>' }],
        run: async (input) => (await admin()).configApply(input),
      },
    ],
  },
  {
    name: 'secrets',
    summary: 'stored connector secrets',
    commands: [
      {
        path: ['secrets', 'rotate'],
        summary: 're-encrypt stored secrets with the current master key',
        details: 'Move the old key to WABRIDGE_MASTER_KEY_PREVIOUS and set the new one first.',
        run: async (input) => (await admin()).secretsRotate(input),
      },
    ],
  },
  {
    name: 'keys',
    summary: 'the data keys that encrypt message content at rest',
    commands: [
      {
        path: ['keys', 'rotate'],
        summary: 're-wrap every data key with the current master key; --workspace: a new data key too',
        details:
          'Set the new WABRIDGE_MASTER_KEY and move the old one to WABRIDGE_MASTER_KEY_PREVIOUS first.\nWith --workspace, that workspace gets a new data key for new writes and its stored content is\nre-sealed with it in small batches while the gateway keeps serving.',
        options: {
          workspace: { type: 'string', value: '<id>', help: 'also give this workspace a new data key' },
        },
        run: async (input) => (await admin()).keysRotate(input),
      },
    ],
  },
  {
    name: 'archive',
    summary: "the tamper-evident archive: each workspace's records in a signed Merkle log",
    commands: [
      {
        path: ['archive', 'checkpoint'],
        summary: "sign and store a checkpoint of a workspace's archive log as it is now",
        details:
          'Prints the checkpoint (a C2SP signed note). Keep a copy outside the database: a checkpoint held\nelsewhere is what proves the records it covers were not rewritten together with the tree.',
        arguments: [workspaceArg],
        run: async (input) => (await admin()).archiveCheckpoint(input),
      },
      {
        path: ['archive', 'public-key'],
        summary: "the key that verifies a workspace's checkpoints (note verifier key form)",
        arguments: [workspaceArg],
        run: async (input) => (await admin()).archivePublicKey(input),
      },
      {
        path: ['archive', 'verify'],
        summary:
          "check every record of a workspace's archive, or an export; exit 1 naming the first that fails",
        details:
          'Re-reads every record, recomputes the Merkle tree, compares it with the stored one and checks\nevery stored checkpoint. With --export, checks an export instead (a contact ZIP or an\nediscovery folder), with no database: the signed checkpoint, each record\'s inclusion proof, and\nthat its data says what its records say.\nExit 0 when sound, 1 when tampered with, 2 on a usage error.\n\n  wabridge archive verify --export ada.zip --key "$(wabridge archive public-key acme)"',
        arguments: [{ name: '[<workspace>]', optional: true }],
        options: {
          json: { type: 'boolean', help: 'the report as JSON' },
          key: {
            type: 'string',
            value: '<verifier key>',
            help: 'trust this verifier key (from archive public-key) instead of the one stored or exported',
          },
          export: {
            type: 'string',
            value: '<file.zip | folder>',
            help: 'verify this export (contact ZIP or ediscovery folder) offline, not the database',
          },
        },
        run: async (input) => (await exports()).archiveVerifyCommand(input),
      },
      {
        path: ['archive', 'prove'],
        summary: 'the inclusion proof of one record against a stored signed checkpoint (JSON)',
        details:
          'Uses the newest stored checkpoint unless --size names another; sign one first with archive\ncheckpoint. Check it anywhere with archive verify-proof and the public key.\n\n  wabridge archive prove acme --seq 42 > proof.json',
        arguments: [{ name: '<workspace>' }],
        options: {
          seq: {
            type: 'string',
            value: '<n>',
            help: 'the record (its seq, as archive verify and audit show it)',
          },
          size: {
            type: 'string',
            value: '<n>',
            help: 'the tree size of the stored checkpoint to prove against',
          },
        },
        run: async (input) => (await exports()).archiveProve(input),
      },
      {
        path: ['archive', 'consistency'],
        summary: 'the consistency proof between two stored signed checkpoints (JSON)',
        arguments: [{ name: '<workspace>' }],
        options: {
          from: { type: 'string', value: '<size>', help: 'the older checkpoint’s tree size' },
          to: { type: 'string', value: '<size>', help: 'the newer checkpoint’s tree size' },
        },
        run: async (input) => (await exports()).archiveConsistency(input),
      },
      {
        path: ['archive', 'verify-proof'],
        summary: 'check a proof from archive prove or consistency, with the public key alone (no database)',
        details:
          'Exit 0 when the proof holds, 1 when it does not.\n\n  wabridge archive verify-proof proof.json --key "wabridge/archive/acme+…"',
        arguments: [{ name: '<file | ->' }],
        options: {
          key: {
            type: 'string',
            value: '<verifier key>',
            help: 'the log’s verifier key (archive public-key)',
          },
        },
        run: async (input) => (await exports()).archiveVerifyProof(input),
      },
    ],
  },
  {
    name: 'admin',
    summary: 'admin accounts of the admin API and console, and their roles per workspace',
    commands: [
      {
        path: ['admin', 'create-owner'],
        summary: 'create an owner account (every permission on every workspace)',
        details: ACCOUNT_DETAILS,
        arguments: [{ name: '<email>' }],
        options: ACCOUNT_OPTIONS,
        run: async (input) => (await accounts()).createAccount(true, input),
      },
      {
        path: ['admin', 'create-account'],
        summary: 'create an account with no role yet (then: admin grant)',
        details: ACCOUNT_DETAILS,
        arguments: [{ name: '<email>' }],
        options: ACCOUNT_OPTIONS,
        run: async (input) => (await accounts()).createAccount(false, input),
      },
      {
        path: ['admin', 'list'],
        summary: 'every account with its roles',
        run: async (input) => (await accounts()).accountList(input),
      },
      {
        path: ['admin', 'grant'],
        summary:
          'give an account a role in a workspace: admin, supervisor, compliance, auditor (none revokes)',
        arguments: [{ name: '<email>' }, workspaceArg, { name: '<role>' }],
        run: async (input) => (await accounts()).accountGrant(input),
      },
    ],
  },
  {
    name: 'hold',
    summary: 'legal holds: what no retention purge or erasure may touch while they last',
    commands: [
      {
        path: ['hold', 'add'],
        summary: 'put a contact, a conversation, a date range or the whole workspace on hold',
        details:
          'Name one scope. A range covers the messages whose WhatsApp time falls in it (dates are whole UTC days).\n\n' +
          '  wabridge hold add acme --contact +15550001111 --reason "SEC inquiry 2026-17"\n' +
          '  wabridge hold add acme --from 2026-01-01 --to 2026-03-31 --reason "FINRA exam"',
        arguments: [workspaceArg],
        options: {
          contact: {
            type: 'string',
            value: '<number|BSUID>',
            help: 'the contact (WhatsApp number, BSUID or contact id)',
          },
          conversation: { type: 'string', value: '<id>', help: 'one conversation' },
          from: { type: 'string', value: '<date>', help: 'start of a date range (with --to)' },
          to: { type: 'string', value: '<date>', help: 'end of a date range, inclusive' },
          workspace: { type: 'boolean', help: 'everything in the workspace' },
          reason: { type: 'string', value: '<text>', help: 'why (required; kept with the hold)' },
        },
        run: async (input) => (await governance()).holdAdd(input),
      },
      {
        path: ['hold', 'list'],
        summary: 'every hold of a workspace, active and released',
        arguments: [workspaceArg],
        options: { json: { type: 'boolean', help: 'one JSON object per line' } },
        run: async (input) => (await governance()).holdList(input),
      },
      {
        path: ['hold', 'release'],
        summary: 'release a hold (it stays listed, with who released it and why)',
        arguments: [workspaceArg, { name: '<hold-id>' }],
        options: { reason: { type: 'string', value: '<text>', help: 'why (required)' } },
        run: async (input) => (await governance()).holdRelease(input),
      },
    ],
  },
  {
    name: 'retention',
    summary: 'how long message content is kept, and the purge that enforces it',
    commands: [
      {
        path: ['retention', 'set'],
        summary: 'set the rule of one record kind (messages, statuses)',
        details:
          '--keep-days is an obligation (content younger is never purged; erasing it restricts instead);\n' +
          '--after-last-message-days purges a conversation that many days after its last message.\n\n' +
          '  wabridge retention set acme messages --keep-days 2190          # six years (SEC 17a-4, FINRA 4511)\n' +
          '  wabridge retention set acme messages --after-last-message-days 90',
        arguments: [workspaceArg, { name: '<kind>' }],
        options: {
          'keep-days': { type: 'string', value: '<n>', help: 'keep at least n days, then purge' },
          'after-last-message-days': {
            type: 'string',
            value: '<n>',
            help: "purge n days after the conversation's last message",
          },
          remove: { type: 'boolean', help: 'remove the rule (content is kept until erased)' },
        },
        run: async (input) => (await governance()).retentionSet(input),
      },
      {
        path: ['retention', 'show'],
        summary: "a workspace's retention rules",
        arguments: [workspaceArg],
        options: { json: { type: 'boolean', help: 'as JSON' } },
        run: async (input) => (await governance()).retentionShow(input),
      },
      {
        path: ['retention', 'run'],
        summary: 'purge now what the rules let go (the worker also does this every hour)',
        details:
          'Removes the content and media of expired records no legal hold covers; the archive keeps their\nleaves, and the run is recorded (what, when, which rule).',
        arguments: [workspaceArg],
        options: {
          'dry-run': { type: 'boolean', help: 'count what would be purged, change nothing' },
          json: { type: 'boolean', help: 'the result as JSON' },
        },
        run: async (input) => (await governance()).retentionRun(input),
      },
    ],
  },
  {
    name: 'erase',
    summary: "erase a contact's or a conversation's data in wabridge and every connector (GDPR art. 17)",
    default: {
      path: ['erase'],
      summary: "erase a contact's or a conversation's data in wabridge and every connector (GDPR art. 17)",
      details:
        'Deletes content and media here, removes queued jobs, and queues conversation.erased for each\n' +
        'connector (retried and dead-lettered like any delivery). Refused under a legal hold; restricted\n' +
        '(art. 18: kept, hidden) while a retention rule still requires keeping the content.\n\n' +
        '  wabridge erase acme --contact +15550001111 --reason "request #12"',
      arguments: [workspaceArg],
      options: {
        contact: {
          type: 'string',
          value: '<number|BSUID>',
          help: 'the contact (WhatsApp number, BSUID or contact id)',
        },
        conversation: { type: 'string', value: '<id>', help: 'one conversation' },
        reason: { type: 'string', value: '<text>', help: 'why (kept with the certificate)' },
        json: { type: 'boolean', help: 'the certificate as JSON' },
      },
      run: async (input) => (await governance()).erase(input),
    },
    commands: [
      {
        path: ['erase', 'status'],
        summary: "an erasure's certificate (JSON), with each connector's confirmation",
        arguments: [workspaceArg, { name: '<erasure-id>' }],
        options: { summary: { type: 'boolean', help: 'a few lines instead of the JSON' } },
        run: async (input) => (await governance()).eraseStatus(input),
      },
    ],
  },
  {
    path: ['audit'],
    summary: 'the audit trail: admin acts, exports, purges, holds, erasures, key rotations',
    details:
      "Each entry is a record of the archive log (column log and seq), so it is covered by signed\ncheckpoints and can be proved: wabridge archive prove <log> --seq <seq>. Acts on no workspace\nare in the log _global.\n\n  wabridge audit acme --since 2026-01-01 --action 'connector.*' --csv > audit.csv",
    arguments: [{ name: '[<workspace>]', optional: true }],
    options: {
      all: { type: 'boolean', help: 'every workspace and _global' },
      since: { type: 'string', value: '<date>', help: 'from this date or time (ISO 8601, UTC)' },
      until: { type: 'string', value: '<date>', help: 'before this date or time' },
      actor: { type: 'string', value: '<actor>', help: 'only this actor (cli:<user>, admin:<id>, …)' },
      action: {
        type: 'string',
        value: '<action>',
        help: "only this action, or a prefix ending in * ('connector.*')",
      },
      json: { type: 'boolean', help: 'one JSON object per line' },
      csv: { type: 'boolean', help: 'CSV (RFC 4180) with a header line' },
    },
    run: async (input) => (await import('./audit.ts')).auditCommand(input),
  },
  {
    path: ['export'],
    summary: "one contact's data as a ZIP (GDPR art. 15/20): JSON, transcripts, media and proofs",
    details:
      "Writes the contact's conversations, messages with every revision and status, and consent\nchanges as JSON, an HTML transcript per conversation with its media, and each archived record\nwith its inclusion proof against a checkpoint signed for the export. The export is recorded in\nthe archive and the audit trail.\n\n  wabridge export acme --contact +15550001111 --out ada.zip",
    arguments: [workspaceArg],
    options: {
      contact: { type: 'string', value: '<number | BSUID>', help: 'the contact (WhatsApp number or BSUID)' },
      out: { type: 'string', value: '<file.zip>', help: 'the ZIP to write (must not exist)' },
    },
    run: async (input) => (await exports()).exportCommand(input),
  },
  {
    path: ['ediscovery'],
    summary: 'messages matching a filter as JSONL, CSV and an HTML transcript, with proofs (resumable)',
    details:
      'Reads the archive a page at a time (bounded memory) and writes to a folder; an interrupted run\ncontinues when run again with the same folder and filter. Covers the archive as it was when the\nexport began. Progress on stderr when it is a terminal. The export is recorded in the archive\nand the audit trail.\n\n  wabridge ediscovery acme --out case-42 --from 2026-01-01 --to 2026-02-01 --keyword invoice',
    arguments: [workspaceArg],
    options: {
      out: { type: 'string', value: '<folder>', help: 'where to write (rerun with it to continue)' },
      from: { type: 'string', value: '<date>', help: 'messages from this date or time (ISO 8601, UTC)' },
      to: { type: 'string', value: '<date>', help: 'messages before this date or time' },
      contact: { type: 'string', value: '<number | BSUID>', help: 'only this contact’s conversations' },
      keyword: {
        type: 'string',
        value: '<words>',
        help: 'text, caption or file name contains these (any case)',
      },
      format: { type: 'string', value: 'jsonl,csv,html', help: 'the files to write (default: all three)' },
    },
    run: async (input) => (await exports()).ediscoveryCommand(input),
  },
  {
    path: ['status'],
    summary: 'the queue, and per workspace and connector: last success, last error, retrying, dead',
    options: { json: { type: 'boolean', help: 'the same as JSON (for monitoring)' } },
    run: async (input) => (await admin()).statusCommand(input),
  },
  {
    path: ['backup'],
    summary: 'a consistent copy of the live database',
    arguments: [{ name: '<file>' }],
    run: async (input) => (await admin()).backupCommand(input),
  },
  {
    path: ['demo'],
    summary: 'the whole bridge against the local sandbox',
    options: {
      script: {
        type: 'boolean',
        help: 'play the scripted conversation, check every system received it, exit',
      },
      keep: { type: 'boolean', help: 'with --script: keep running afterwards' },
      port: { type: 'string', value: '<n>', help: 'port of the console (default 5180; 0 = any free port)' },
    },
    async run({ env, args }) {
      const { runDemo } = await loadDemo();
      await runDemo(env(), args);
    },
  },
];

/** Every command of the table, groups flattened. */
export function allCommands(entries: readonly Entry[] = COMMANDS): CommandSpec[] {
  return entries.flatMap((entry) => ('commands' in entry ? [...entry.commands] : [entry]));
}

/**
 * The demo is its own workspace package (apps/demo), so the gateway does not ship the emulators:
 * `wabridge demo` runs it where it is installed (a checkout of the repository) and says so
 * elsewhere. The name is a variable because the gateway does not depend on the demo (the demo
 * depends on the gateway).
 */
async function loadDemo(): Promise<{ runDemo(env: Env, args: string[]): Promise<void> }> {
  const name = '@wabridge/demo';
  try {
    return await import(name);
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'ERR_MODULE_NOT_FOUND' && message.includes(name)) {
      throw new UsageError(
        'the demo is not installed with this gateway: run `npm run demo` in a checkout of the wabridge repository',
      );
    }
    throw error;
  }
}
