// The database going away: which errors say so (as pg, Prisma and wrappers really throw them), and a
// transaction whose connection is cut fails with such an error instead of taking the process down.
import { GraphQLError } from 'graphql'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { connectDatabase, transaction, useDatabase } from '../../src/db/client.ts'
import { freePort } from '../../src/db/embedded.ts'
import { isDatabaseUnavailable } from '../../src/db/unavailable.ts'
import { badInput } from '../../src/errors.ts'
import { createLogger } from '../../src/logger.ts'
import { useTestDatabase } from '../helpers/db.ts'

const logger = createLogger('silent')
const db = useTestDatabase()

/** What `work` rejects with. */
async function failure(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work()
  } catch (error) {
    return error
  }
  throw new Error('expected a failure')
}

describe('isDatabaseUnavailable', () => {
  it('recognises what pg and Prisma throw when nothing listens on the port', async () => {
    const closed = connectDatabase(`postgresql://postgres:x@127.0.0.1:${await freePort()}/none`, 1, logger)
    try {
      const fromPool = await failure(() => closed.pool.query('SELECT 1'))
      expect(fromPool).toMatchObject({ code: 'ECONNREFUSED' })
      const fromPrisma = await failure(() => closed.prisma.tenant.findMany())
      expect(fromPrisma).toMatchObject({ code: 'P1001' })
      for (const error of [fromPool, fromPrisma, new GraphQLError('wrapped', { originalError: fromPool as Error })]) {
        expect(isDatabaseUnavailable(error)).toBe(true)
      }
    } finally {
      await closed.close()
    }
  })

  it.each([
    ['an admin shutdown', { code: '57P01' }],
    ['a crash shutdown', { code: '57P02' }],
    ['a server starting up or shutting down', { code: '57P03' }],
    ['a connection exception', { code: '08006' }],
    ['a connection reset', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['a lost connection', new Error('Connection terminated unexpectedly')],
    ['a pool connect timeout', new Error('timeout exceeded when trying to connect')],
    ['a connect timeout', new Error('Connection terminated due to connection timeout')],
    ['Prisma losing the server', { code: 'P1017' }],
    ['Prisma timing out on the pool', { code: 'P2024' }],
    [
      "Prisma's raw query failing with the server's shutdown",
      { code: 'P2010', meta: { driverAdapterError: { cause: { kind: 'postgres', code: '57P01' } } } },
    ],
    ["Prisma's driver adapter losing the connection", { cause: { kind: 'ConnectionClosed' } }],
    ['every address refusing', new AggregateError([{ code: 'ECONNREFUSED' }, { code: 'ECONNREFUSED' }])],
  ])('says yes to %s', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true)
  })

  it.each([
    ['a unique violation', { code: '23505' }],
    ['a deadlock', { code: '40P01' }],
    ["Prisma's unique violation", { code: 'P2002' }],
    ['a bug', new Error('boom')],
    ["a user's mistake", badInput('no')],
    ['nothing', undefined],
    [
      "an HTTP client's failure to reach another host",
      new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
      }),
    ],
  ])('says no to %s', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false)
  })
})

describe('transaction', () => {
  const database = { current: undefined as ReturnType<typeof connectDatabase> | undefined }
  afterAll(async () => {
    useDatabase(undefined)
    await database.current?.close()
  })

  it('fails with an unavailable error when the server ends its connection, and the pool carries on', async () => {
    const connection = connectDatabase(db.url, 2, logger)
    database.current = connection
    useDatabase(connection)
    const admin = new pg.Client({ connectionString: db.url })
    await admin.connect()
    try {
      // The server terminates the backend mid-transaction, as a restart does: the client gets 57P01,
      // then its socket closes. A checked-out client with no 'error' listener would crash the process.
      const cut = await failure(() =>
        transaction(async (client) => {
          const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
          await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid])
          await client.query('SELECT pg_sleep(1)')
        }),
      )
      expect(isDatabaseUnavailable(cut)).toBe(true)
      await new Promise((resolve) => setTimeout(resolve, 100))
      expect(await transaction(async (client) => (await client.query('SELECT 1 AS ok')).rows)).toEqual([{ ok: 1 }])
    } finally {
      await admin.end()
    }
  })
})
