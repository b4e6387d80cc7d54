#!/usr/bin/env node
// Launcher: wabridge runs its TypeScript sources directly with Node's type stripping, so check the
// Node version first and say clearly what is needed instead of failing on a ".ts" extension.
import { spawnSync } from 'node:child_process';
import module from 'node:module';
import { fileURLToPath } from 'node:url';
import { enableCompileCache, relaunchWithMemorySettings } from './memory.mjs';

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 12)) {
  process.stderr.write(
    `wabridge needs Node.js 22.12 or newer (24 LTS recommended); this is ${process.version}.\n` +
      'Install Node 24 (nvm install 24, or: npm install --prefix ~/.node24 node@24 and put ~/.node24/node_modules/node/bin first on PATH).\n',
  );
  process.exit(1);
}
const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
// serve and worker keep the TypeScript sources they load, stripped, in a compile cache: set before
// the relaunch below, so the relaunched process (and its threads) inherit NODE_COMPILE_CACHE.
// Not for help (`wabridge serve --help` writes nothing).
const args = process.argv.slice(2);
if (!args.includes('--help') && !args.includes('-h'))
  enableCompileCache({ command: args[0], env: process.env, cwd: process.cwd() }, module);
// serve and worker get their memory settings (V8 heap sizes, glibc malloc), which only apply when
// a process starts: see memory.mjs.
const memory = relaunchWithMemorySettings({
  command: process.argv[2],
  execArgv: process.execArgv,
  env: process.env,
});
if (!process.features.typescript) {
  // Node 22.12–22.17 has type stripping and node:sqlite only behind flags.
  const flags = [
    '--experimental-strip-types',
    '--experimental-sqlite',
    '--disable-warning=ExperimentalWarning',
  ];
  const result = spawnSync(
    process.execPath,
    [...flags, ...(memory?.flags ?? []), main, ...process.argv.slice(2)],
    {
      stdio: 'inherit',
      env: memory?.env ?? process.env,
    },
  );
  process.exit(result.status ?? 1);
}
if (memory && typeof process.execve === 'function' && process.platform !== 'win32') {
  // The same process (pid, signals, supervisor) restarts with the settings; nothing has run yet.
  // Without execve (Node < 22.15, Windows) the command runs with Node's defaults.
  process.execve(
    process.execPath,
    [
      process.execPath,
      ...memory.flags,
      ...process.execArgv,
      fileURLToPath(import.meta.url),
      ...process.argv.slice(2),
    ],
    memory.env,
  );
}
process.removeAllListeners('warning');
await import(main);
