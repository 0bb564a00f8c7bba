import { createRequire } from 'node:module'
import { defineConfig } from 'vitest/config'

const require = createRequire(import.meta.url)

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS build (it has no "exports" map); Vite would pick its ESM "module"
    // entry for our files, and two copies of GraphQLError break `instanceof` checks.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // A loaded 2-core machine can take seconds over a browser's round trip to the hub: expect.poll waits as
    // long as the tests' own eventually() does, not its default second.
    expect: { poll: { timeout: 15_000 } },
    // Files run in parallel, each on its own database; two cores gain nothing from more.
    maxWorkers: 2,
  },
})
