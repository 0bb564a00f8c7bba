// `npm run test:chaos`: the chaos scenarios of issue 9 (test/chaos/*.chaos.ts), one file at a time, each
// spawning its own hub processes. CHAOS_SCALE=smoke runs them small. Same PostgreSQL setup and module
// resolution as the test suite.
import { defineConfig } from 'vitest/config'
import base from './vitest.config.ts'

export default defineConfig({
  resolve: base.resolve,
  test: {
    include: ['test/chaos/**/*.chaos.ts'],
    globalSetup: [base.test?.globalSetup ?? [], 'test/chaos/setup.ts'].flat(),
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 120_000,
    // Each scenario runs several processes and measures timings: never two at once.
    maxWorkers: 1,
    fileParallelism: false,
  },
})
