// A gateway or worker process for the crash test, with only the ledger test connector loaded.
// Usage: node crash-child.ts setup|gateway|worker   (configuration from the environment)
import { createRegistry } from '@wabridge/core';
import { ledgerConnector } from '@wabridge/core/testing';
import { crashPhoneNumberId } from './crash-numbers.ts';
import { createLogger, createRuntime, loadEnv, noopMetrics, startServer } from './gateway.ts';

const mode = process.argv[2];
const env = loadEnv();
const registry = createRegistry([ledgerConnector]);

if (mode === 'setup') {
  const runtime = await createRuntime({
    env,
    registry,
    logger: createLogger('warn'),
    metrics: noopMetrics,
    worker: false,
  });
  // CRASH_WORKSPACES (default 1): workspace `crash` owns the first number, `crash1`… the next ones.
  const workspaces = Number(process.env.CRASH_WORKSPACES ?? 1);
  for (let w = 0; w < workspaces; w++) {
    const id = w === 0 ? 'crash' : `crash${w}`;
    await runtime.admin.createWorkspace('crash-test', { id, name: `Crash test ${w}` });
    await runtime.admin.addPhoneNumber('crash-test', id, { phoneNumberId: crashPhoneNumberId(w) });
    await runtime.admin.setConnector('crash-test', id, 'ledger', {
      enabled: true,
      config: { url: process.env.LEDGER_URL, secret: 'ledger-secret-123' },
    });
  }
  await runtime.close();
} else if (mode === 'gateway' || mode === 'worker') {
  await startServer(env, { worker: mode === 'worker', http: mode === 'gateway', registry });
  process.stdout.write('ready\n');
} else {
  throw new Error(`unknown mode ${mode}`);
}
