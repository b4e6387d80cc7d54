#!/usr/bin/env node
// Launcher: wabridge runs its TypeScript sources directly with Node's type stripping, so check the
// Node version first and say clearly what is needed instead of failing on a ".ts" extension.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `wabridge needs Node.js 22.12 or newer (24 LTS recommended); this is ${process.version}.\n` +
      'Install Node 24 (nvm install 24, or: npm install --prefix ~/.node24 node@24 and put ~/.node24/node_modules/node/bin first on PATH).\n',
  );
  process.exit(1);
}
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
if (!process.features.typescript) {
  // Node 22.12–22.17 has type stripping and node:sqlite only behind flags.
  const flags = [
    '--experimental-strip-types',
    '--experimental-sqlite',
    '--disable-warning=ExperimentalWarning',
  ];
  const result = spawnSync(process.execPath, [...flags, main, ...process.argv.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(result.status ?? 1);
}
process.removeAllListeners('warning');
await import(main);
