import { PrismaPg } from '@prisma/adapter-pg'
import { PrismaClient } from '#generated/prisma/client.ts'

export type { PrismaClient }
export type Db = PrismaClient

export function createPrismaClient(databaseUrl: string, poolSize: number): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolSize, application_name: 'switchyard' })
  return new PrismaClient({ adapter })
}

let current: PrismaClient | undefined

/** The process's Prisma client, set once at boot by `useDatabase`. */
export function db(): PrismaClient {
  if (!current) throw new Error('the database is not connected yet')
  return current
}

export function useDatabase(client: PrismaClient | undefined): void {
  current = client
}
