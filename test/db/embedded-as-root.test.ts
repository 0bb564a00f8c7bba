// As root, the embedded PostgreSQL runs as the `postgres` system user. A clone under /root, or in a
// `mktemp -d` folder, is mode 700: that user can reach neither the binaries in node_modules nor the data
// folder. `npm start` must work there all the same.
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { lstat, mkdtemp, readlink, rm, stat, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { projectRoot } from '../../src/db/migrations-dir.ts'

const isRoot = process.getuid?.() === 0
const cleanups: Array<() => Promise<unknown>> = []
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup()
})

/**
 * `node <folder>/switchyard/src/main.ts all` from inside the folder, where `switchyard` links to this
 * checkout. Node resolves modules through symlinks to their real paths unless told to preserve them; with
 * --preserve-symlinks, every path the hub computes (the binaries' too) is under the mode-700 folder, as
 * in a real clone there.
 */
function startHub(folder: string) {
  const { DATABASE_URL: _unused, ...env } = process.env
  const child = spawn(
    process.execPath,
    ['--preserve-symlinks', '--preserve-symlinks-main', join(folder, 'switchyard', 'src', 'main.ts'), 'all'],
    {
      cwd: folder,
      env: {
        ...env,
        SWITCHYARD_DATA_DIR: join(folder, '.switchyard'),
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
      },
    },
  )
  cleanups.push(async () => child.exitCode === null && child.kill('SIGKILL'))
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { child, exited, output: () => output, ready: readyPort(child, exited, () => output) }
}

async function readyPort(child: ChildProcess, exited: Promise<unknown>, output: () => string): Promise<number> {
  const deadline = Date.now() + 60_000
  while (Date.now() < deadline && child.exitCode === null) {
    const port = /Switchyard is ready[\s\S]*?GraphiQL: http:\/\/[^:]+:(\d+)\//.exec(output())?.[1]
    if (port) return Number(port)
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 100))])
  }
  throw new Error(`the hub did not become ready:\n${output()}`)
}

// Only root runs PostgreSQL as another user; anyone else runs it as themselves, from any folder.
it.skipIf(!isRoot)(
  `as root, starts from a folder the postgres user cannot enter, and restarts on the same data${isRoot ? '' : ' (skipped: not running as root)'}`,
  { timeout: 120_000 },
  async () => {
    const folder = await mkdtemp(join(tmpdir(), 'switchyard-root-'))
    cleanups.push(() => rm(folder, { recursive: true, force: true }))
    expect((await stat(folder)).mode & 0o777).toBe(0o700)
    await symlink(projectRoot, join(folder, 'switchyard'))
    const dataDir = join(folder, '.switchyard', 'pg')

    const first = startHub(folder)
    const port = await first.ready
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200)
    // The cluster lives where the postgres user can reach it; the data folder says where.
    expect((await lstat(dataDir)).isSymbolicLink()).toBe(true)
    const cluster = await readlink(dataDir)
    cleanups.push(() => rm(cluster, { recursive: true, force: true }))
    expect(cluster).toMatch(/^\/var\/lib\/switchyard\/pg-/)
    first.child.kill('SIGINT')
    expect(await first.exited).toBe(0)
    expect(first.output()).toMatch(/embedded PostgreSQL stopped/)
    expect(existsSync(join(dataDir, 'postmaster.pid'))).toBe(false)

    const second = startHub(folder)
    await second.ready
    expect(second.output()).not.toMatch(/initialising embedded PostgreSQL/)
    second.child.kill('SIGTERM')
    expect(await second.exited).toBe(0)
  },
)
