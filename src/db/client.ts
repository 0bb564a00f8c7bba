// One pg pool per process: Prisma (through adapter-pg) for CRUD, and the same pool for the hot paths
// (publish, attempt recording, stats) that are plain SQL.
import { PrismaPg } from '@prisma/adapter-pg'
import pg from 'pg'
import { PrismaClient } from '#generated/prisma/client.ts'
import type { Logger } from '../logger.ts'

export type { PrismaClient }

export interface Database {
  prisma: PrismaClient
  pool: pg.Pool
  close(): Promise<void>
}

export function connectDatabase(databaseUrl: string, poolSize: number, logger: Logger): Database {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize, application_name: 'switchyard' })
  // An idle connection can fail (a server restart, a network cut); the pool replaces it on next use.
  // Without a listener, pg would turn that into an uncaught exception and take the process down.
  pool.on('error', (error) => logger.warn({ err: error }, 'an idle database connection failed'))
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) })
  return {
    prisma,
    pool,
    async close() {
      await prisma.$disconnect()
      await pool.end()
    },
  }
}

let current: Database | undefined

/** The process's Prisma client, set once at boot by `useDatabase`. */
export function db(): PrismaClient {
  if (!current) throw new Error('the database is not connected yet')
  return current.prisma
}

/** The process's pg pool, for plain SQL. */
export function pool(): pg.Pool {
  if (!current) throw new Error('the database is not connected yet')
  return current.pool
}

export function useDatabase(database: Database | undefined): void {
  current = database
}

/** Runs `work` in one transaction on a pooled client. */
export async function transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool().connect()
  // A checked-out client has no pool listener: its connection dying (a server restart) would be an
  // uncaught 'error' event. The query in flight fails with it anyway, and release() drops the client.
  let broken: Error | undefined
  const onError = (error: Error) => {
    broken = error
  }
  client.on('error', onError)
  try {
    await client.query('BEGIN')
    const result = await work(client)
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch((rollbackError: Error) => {
      broken ??= rollbackError
    })
    throw error
  } finally {
    client.off('error', onError)
    client.release(broken)
  }
}

/**
 * Runs `work` again when PostgreSQL broke a deadlock or a serialization conflict by aborting it (a cascade delete of a webhook's
 * deliveries can meet a worker recording attempts of the same deliveries in another order).
 */
export async function retryOnDeadlock<T>(work: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work()
    } catch (error) {
      // 40P01 (deadlock) and 40001 (serialization failure) from pg; Prisma reports them as P2034, or
      // passes PostgreSQL's message through.
      const code = (error as { code?: string }).code
      const deadlock =
        code === '40P01' || code === '40001' || code === 'P2034' || /deadlock/.test(String((error as Error).message))
      if (!deadlock || attempt >= attempts) throw error
      await new Promise((resolve) => setTimeout(resolve, 20 * attempt))
    }
  }
}
