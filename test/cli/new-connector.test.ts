// `npm run new-connector` scaffolds connectors that compile, lint clean and pass the contract suite as
// they are. It runs on a copy of the project, so this checkout is left untouched.
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, inject, it } from 'vitest'

const root = process.cwd()
let copy = ''
afterAll(() => (copy ? rm(copy, { recursive: true, force: true }) : undefined))

function run(command: string, args: string[], env: Record<string, string> = {}) {
  const result = spawnSync(command, args, { cwd: copy, encoding: 'utf8', env: { ...process.env, ...env } })
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

it('scaffolds connectors that pass the contract suite unchanged', { timeout: 120_000 }, async () => {
  copy = await mkdtemp(join(tmpdir(), 'switchyard-scaffold-'))
  const files = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
  })
  const tar = spawnSync('sh', ['-c', `tar -cf - -T - | tar -xf - -C ${copy}`], { cwd: root, input: files.stdout })
  expect(tar.status).toBe(0)
  await symlink(join(root, 'node_modules'), join(copy, 'node_modules'))
  await symlink(join(root, 'generated'), join(copy, 'generated'))
  const node = process.execPath

  expect(run(node, ['src/cli/new-connector.ts', 'acme']).output).toMatch(/created connectors\/acme/)
  expect(run(node, ['src/cli/new-connector.ts', 'globex']).status).toBe(0)
  expect(run(node, ['src/cli/new-connector.ts', 'acme']).status).toBe(1)
  expect(run(node, ['src/cli/new-connector.ts', 'Bad Name']).status).toBe(2)
  const registry = await readFile(join(copy, 'connectors/registry.ts'), 'utf8')
  expect(registry).toMatch(/import acme from '\.\/acme\/index\.ts'/)
  expect(registry).toMatch(/stripe,\s+acme,\s+globex,?\s*\]/)

  const typecheck = run(join(copy, 'node_modules/.bin/tsc'), ['--noEmit'])
  expect(typecheck.output).toBe('')
  const lint = run(join(copy, 'node_modules/.bin/biome'), ['check', 'connectors', 'test/connectors'])
  expect(lint.status, lint.output).toBe(0)
  const tests = run(join(copy, 'node_modules/.bin/vitest'), ['run', 'test/connectors/acme', 'test/connectors/globex'], {
    TEST_DATABASE_URL: inject('databaseAdminUrl'),
    NO_COLOR: '1',
    FORCE_COLOR: '0',
  })
  expect(tests.status, tests.output).toBe(0)
  expect(tests.output).toMatch(/Tests\s+50 passed/)
})
