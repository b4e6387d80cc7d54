import type { ConnectorState } from '../connector/contract.ts';

/**
 * A connector's state in memory, for a connector's unit tests: `values` is what is stored (copies,
 * as a store would keep), and `hold()` keeps every write waiting until the function it returns is
 * called, with `waiting()` saying how many writes wait, so a test can tell which writes a
 * connector lets run at the same time.
 */
export function memoryConnectorState() {
  const values = new Map<string, unknown>();
  const secrets = new Map<string, string>();
  let gate: Promise<void> | null = null;
  let waiting = 0;
  const state: ConnectorState = {
    async get<T>(key: string) {
      return (values.has(key) ? structuredClone(values.get(key)) : null) as T | null;
    },
    async set(key, value) {
      if (gate) {
        waiting += 1;
        await gate;
        waiting -= 1;
      }
      if (value === null) values.delete(key);
      else values.set(key, structuredClone(value));
    },
    async count(key, limit) {
      const count = Number(values.get(key) ?? 0);
      if (count >= limit) return null;
      values.set(key, count + 1);
      return count + 1;
    },
    async setSecret(key, value) {
      secrets.set(key, value);
    },
    async getSecret(key) {
      return secrets.get(key) ?? null;
    },
  };
  const hold = (): (() => void) => {
    let release = () => {};
    gate = new Promise((resolve) => {
      release = () => {
        gate = null;
        resolve();
      };
    });
    return release;
  };
  return { state, values, secrets, hold, waiting: () => waiting };
}
