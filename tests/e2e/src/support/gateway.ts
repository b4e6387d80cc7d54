export { noopMetrics } from '@wabridge/core';
export { createLogger, createRuntime, loadEnv, startServer } from '@wabridge/gateway';
