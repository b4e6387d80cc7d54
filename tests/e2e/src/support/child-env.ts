// Shared by the multi-process tests (crash, abuse, ordering); no gateway import, so it loads fast.

/**
 * The environment of a gateway or worker child in a multi-process test: this process's own
 * environment, a test-mode gateway on 127.0.0.1:`port` with its data in `dataDir`, signed by
 * `appSecret`, silent unless WABRIDGE_TEST_LOG names a level; `extra` adds or overrides variables.
 */
export function childEnv(options: {
  port: number;
  dataDir: string;
  appSecret: string;
  /** Fills the 32-byte master key, so each test's data is its own. */
  keyByte: number;
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    ...(process.env as Record<string, string>),
    NODE_ENV: 'test',
    PORT: String(options.port),
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.WABRIDGE_TEST_LOG ?? 'silent',
    WABRIDGE_DATA_DIR: options.dataDir,
    WABRIDGE_MASTER_KEY: Buffer.alloc(32, options.keyByte).toString('base64'),
    WHATSAPP_APP_SECRET: options.appSecret,
    WHATSAPP_VERIFY_TOKEN: 'v',
    ...options.extra,
  };
}
