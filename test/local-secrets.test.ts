// Secrets kept in the data folder, made by whichever of several processes starting at once gets there first:
// each process gets the same, whole secret, never an empty or half-written one.
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { loadListenSecret, loadLocalSecrets } from '../src/local-secrets.ts'
import { spawnNode } from './helpers/process.ts'

const dirs: string[] = []
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })))
})

async function freshDir() {
  const dir = await mkdtemp(join(tmpdir(), 'switchyard-secrets-'))
  dirs.push(dir)
  return dir
}

const PROCESSES = 8
const ROUNDS = 40

describe('local secrets', () => {
  it('are the same, and whole, in every process that loads them at once', { timeout: 120_000 }, async () => {
    const base = await freshDir()
    const children = Array.from({ length: PROCESSES }, () =>
      spawnNode('test/fixtures/load-secrets.ts', [base, String(ROUNDS)], {}),
    )
    await Promise.all(children.map((child) => child.waitFor(/^ready$/m)))
    for (const child of children) child.child.stdin?.write('go\n')
    const codes = await Promise.all(children.map((child) => child.exited))
    expect(children.map((child) => child.output()).filter((_, i) => codes[i] !== 0)).toEqual([])
    const rounds = children.map((child) =>
      child
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { round: number; listen: string[]; local: Record<string, string>[] }),
    )
    for (let round = 0; round < ROUNDS; round++) {
      const got = rounds.map((lines) => lines[round])
      const listen = new Set(got.flatMap((line) => line?.listen ?? []))
      const local = new Set(got.flatMap((line) => (line?.local ?? []).map((secrets) => JSON.stringify(secrets))))
      expect([...listen]).toHaveLength(1)
      expect([...listen][0]).toMatch(/^listen-\d+-\d$/)
      expect([...local]).toHaveLength(1)
      expect(Object.values(JSON.parse([...local][0] ?? '{}'))).toEqual([
        expect.stringMatching(/^[\w-]{24,}$/),
        expect.stringMatching(/^[\w-]{24,}$/),
        expect.stringMatching(/^[\w-]{24,}$/),
      ])
    }
  })
  it('are kept readable by their owner alone, with no temporary file left beside them', async () => {
    const dir = await freshDir()
    const secret = await loadListenSecret(dir, () => 'made-once')
    expect(await loadListenSecret(dir, () => 'made-twice')).toBe(secret)
    const secrets = await loadLocalSecrets(dir)
    expect(await loadLocalSecrets(dir)).toEqual(secrets)
    expect((await readdir(dir)).sort()).toEqual(['listen-secret', 'secrets.json'])
    for (const name of ['listen-secret', 'secrets.json']) {
      expect((await stat(join(dir, name))).mode & 0o777).toBe(0o600)
    }
  })

  it('refuses an empty listen secret, naming the file', async () => {
    const dir = await freshDir()
    await writeFile(join(dir, 'listen-secret'), '\n')
    await expect(loadListenSecret(dir, () => 'made')).rejects.toThrow(/listen-secret is empty/)
  })

  it.each([
    ['empty', '', /secrets\.json is not JSON/],
    ['not JSON', '{"jwtSecret": "a', /secrets\.json is not JSON/],
    ['an empty secret', '{"jwtSecret": ""}', /secrets\.json holds something other than secrets/],
    ['not an object', '"secret"', /secrets\.json holds something other than secrets/],
  ])('refuses local secrets that are %s, naming the file', async (_, content, message) => {
    const dir = await freshDir()
    await writeFile(join(dir, 'secrets.json'), content)
    await expect(loadLocalSecrets(dir)).rejects.toThrow(message)
  })
})
