// The layer rules in biome.json (docs/architecture.md): `npm run lint` fails on an import that goes up a
// layer or sideways between domains, and on an import cycle. Each case is a tiny project in a temp
// folder, linted with the project's own biome.json.
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const root = join(import.meta.dirname, '..', '..')
const biome = join(root, 'node_modules', '.bin', 'biome')

/** Lints `files` (path → source) with the project's rules; the diagnostics, or '' when it passes. */
async function lint(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-layers-'))
  try {
    const config = JSON.parse(await readFile(join(root, 'biome.json'), 'utf8'))
    config.$schema = undefined
    config.vcs = { enabled: false }
    config.files = { includes: ['**'] }
    await writeFile(join(dir, 'biome.json'), JSON.stringify(config))
    for (const [path, source] of Object.entries(files)) {
      await mkdir(dirname(join(dir, path)), { recursive: true })
      await writeFile(join(dir, path), source)
    }
    await run(biome, ['lint', '--max-diagnostics=50', '.'], { cwd: dir })
    return ''
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string }
    return `${stdout}${stderr}` || String(error)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

const importing = (from: string) => `import { value } from '${from}'\nexport const copy = value\n`
const exporting = 'export const value = 1\n'

describe('layers', () => {
  it.each([
    ['src/delivery/worker.ts', '../events/publish.ts', 'src/events/publish.ts'],
    ['src/delivery/worker.ts', '../../connectors/registry.ts', 'connectors/registry.ts'],
    ['src/events/publish.ts', '../integrations/notifications.ts', 'src/integrations/notifications.ts'],
    ['src/webhooks/crud.ts', '../integrations/views.ts', 'src/integrations/views.ts'],
    ['src/integrations/configure.ts', '../deliveries/replay.ts', 'src/deliveries/replay.ts'],
    ['src/db/client.ts', '../delivery/queue.ts', 'src/delivery/queue.ts'],
    ['src/config.ts', './delivery/headers.ts', 'src/delivery/headers.ts'],
    ['src/schema/webhooks.ts', '../server.ts', 'src/server.ts'],
    ['connectors/slack/index.ts', '../../src/delivery/retry.ts', 'src/delivery/retry.ts'],
    ['connectors/contract.ts', '../test/helpers/hub.ts', 'test/helpers/hub.ts'],
    ['web/src/api.ts', '../../src/errors.ts', 'src/errors.ts'],
    ['web/src/screens/live.tsx', '../../../connectors/types.ts', 'connectors/types.ts'],
  ])('refuses %s importing %s', async (file, specifier, target) => {
    expect(await lint({ [file]: importing(specifier), [target]: exporting })).toContain(
      'lint/style/noRestrictedImports',
    )
  })

  it.each([
    ['src/events/publish.ts', '../delivery/jobs.ts', 'src/delivery/jobs.ts'],
    ['src/schema/webhooks.ts', '../webhooks/crud.ts', 'src/webhooks/crud.ts'],
    ['src/hub.ts', './schema/index.ts', 'src/schema/index.ts'],
    ['src/delivery/http.ts', '../../connectors/outcome.ts', 'connectors/outcome.ts'],
  ])('lets %s import %s, a layer below', async (file, specifier, target) => {
    expect(await lint({ [file]: importing(specifier), [target]: exporting })).toBe('')
  })

  it('refuses an import cycle', async () => {
    const found = await lint({
      'src/events/a.ts': "import { b } from './b.ts'\nexport const value = b\n",
      'src/events/b.ts': "import { value } from './a.ts'\nexport const b = () => value\n",
    })
    expect(found).toContain('lint/suspicious/noImportCycles')
  })
})
