// Secrets the embedded default generates once and keeps in the data folder, so that a second start
// (and an API and a worker process sharing the folder) agree on them.
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface LocalSecrets {
  jwtSecret: string
  encryptionKey: string
  postgresPassword: string
}

export async function loadLocalSecrets(dataDir: string): Promise<LocalSecrets> {
  const fresh: LocalSecrets = {
    jwtSecret: randomBytes(32).toString('base64url'),
    encryptionKey: randomBytes(32).toString('base64url'),
    postgresPassword: randomBytes(18).toString('base64url'),
  }
  const kept = await keep(dataDir, 'secrets.json', `${JSON.stringify(fresh, null, 2)}\n`)
  return { ...fresh, ...(JSON.parse(kept) as Partial<LocalSecrets>) }
}

/**
 * The secret `npm run listen` signs forwarded events with (`make` makes it on first use), kept in the data
 * folder so that a receiver configured with it keeps verifying from one run to the next.
 */
export async function loadListenSecret(dataDir: string, make: () => string): Promise<string> {
  return (await keep(dataDir, 'listen-secret', `${make()}\n`)).trim()
}

/** Writes the file with `content` when it does not exist yet; returns what the file holds. */
async function keep(dataDir: string, name: string, content: string): Promise<string> {
  const path = join(dataDir, name)
  await mkdir(dataDir, { recursive: true })
  try {
    // `wx` fails when the file exists, so two processes starting at once cannot both write it.
    await writeFile(path, content, { flag: 'wx', mode: 0o600 })
    return content
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  return readFile(path, 'utf8')
}
