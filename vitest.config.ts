import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores: a few files at a time keeps argon2id and PostgreSQL from starving each other.
    maxWorkers: 3,
    pool: 'forks',
  },
})
