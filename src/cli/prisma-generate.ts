// `prisma generate` without network access: the CLI insists on locating a schema engine binary
// it cannot download here, yet generation never runs it, so any existing file satisfies the check.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const packageJson = fileURLToPath(new URL('../../package.json', import.meta.url))
const prismaCli = fileURLToPath(new URL('../../node_modules/prisma/build/index.js', import.meta.url))

const result = spawnSync(process.execPath, [prismaCli, 'generate', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: {
    PRISMA_SCHEMA_ENGINE_BINARY: packageJson,
    PRISMA_HIDE_UPDATE_MESSAGE: '1',
    CHECKPOINT_DISABLE: '1',
    ...process.env,
  },
})
process.exit(result.status ?? 1)
