// A gateway or worker process for the ordering test, with the built-in Slack, Teams and HubSpot
// connectors. Usage: node ordering-child.ts setup|gateway|worker   (configuration from the
// environment: ORDERING_SETUP is the workspace as JSON, GRAPH_CA the Graph emulator's certificate)
import { defaultRegistry } from '@wabridge/gateway';
import { trustCertificateInProcess } from '@wabridge/sandbox/graph';
import { createLogger, createRuntime, loadEnv, noopMetrics, startServer } from './gateway.ts';

export interface OrderingSetup {
  workspaceId: string;
  numbers: { phoneNumberId: string; displayPhoneNumber: string }[];
  connectors: Record<string, Record<string, unknown>>;
}

const mode = process.argv[2];
// The Graph emulator serves HTTPS with a throwaway certificate; this process must trust it.
if (process.env.GRAPH_CA) trustCertificateInProcess(process.env.GRAPH_CA);
const env = loadEnv();
const registry = defaultRegistry();

if (mode === 'setup') {
  const setup = JSON.parse(process.env.ORDERING_SETUP ?? '{}') as OrderingSetup;
  const runtime = await createRuntime({
    env,
    registry,
    logger: createLogger('warn'),
    metrics: noopMetrics,
    worker: false,
  });
  const { admin } = runtime;
  await admin.createWorkspace('ordering-test', { id: setup.workspaceId, name: 'Ordering test' });
  for (const number of setup.numbers) await admin.addPhoneNumber('ordering-test', setup.workspaceId, number);
  for (const [connectorId, config] of Object.entries(setup.connectors)) {
    await admin.setConnector('ordering-test', setup.workspaceId, connectorId, { enabled: true, config });
  }
  await runtime.close();
} else if (mode === 'gateway' || mode === 'worker') {
  await startServer(env, { worker: mode === 'worker', http: mode === 'gateway', registry });
  process.stdout.write('ready\n');
} else {
  throw new Error(`unknown mode ${mode}`);
}
