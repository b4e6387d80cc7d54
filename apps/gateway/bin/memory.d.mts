// Types of memory.mjs, for the benchmarks and tests written in TypeScript.
export declare const LONG_RUNNING_COMMANDS: ReadonlySet<string>;
export declare const SERVER_V8_FLAGS: readonly string[];
export declare const SERVER_MALLOC_ENV: Readonly<Record<string, string>>;
export declare const APPLIED: string;
export declare function relaunchWithMemorySettings(process: {
  command: string | undefined;
  execArgv: readonly string[];
  env: NodeJS.ProcessEnv;
}): { flags: readonly string[]; env: NodeJS.ProcessEnv } | null;
export declare function compileCacheDirectory(process: {
  command: string | undefined;
  env: NodeJS.ProcessEnv;
  cwd: string;
}): string | null;
export declare function enableCompileCache(
  process: { command: string | undefined; env: NodeJS.ProcessEnv; cwd: string },
  module: { enableCompileCache?(directory: string): { directory?: string } | undefined },
): string | null;
export declare const THREAD_V8_FLAGS: readonly string[];
export declare function applyThreadMemorySettings(
  process: { env: NodeJS.ProcessEnv },
  setFlags: (flag: string) => void,
): boolean;
