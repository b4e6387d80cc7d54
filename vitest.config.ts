import { defineConfig } from 'vitest/config';

// Each workspace runs its own `vitest run` through turbo; this file holds the shared defaults.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
