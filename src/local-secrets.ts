// Secrets the embedded default generates once and keeps in the data folder, so that a second start
// (and an API and a worker process sharing the folder) agree on them.
import { randomBytes } from 'node:crypto'
import { link, mkdir, open, readFile, rm } from 'node:fs/promises'
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
  let parsed: unknown
  try {
    parsed = JSON.parse(kept)
  } catch {
    throw unusable(dataDir, 'secrets.json', 'is not JSON')
  }
  const valid =
    typeof parsed === 'object' &&
    parsed !== null &&
    Object.values(parsed).every((value) => typeof value === 'string' && value !== '')
  if (!valid) throw unusable(dataDir, 'secrets.json', 'holds something other than secrets')
  return { ...fresh, ...(parsed as Partial<LocalSecrets>) }
}

/**
 * The secret `npm run listen` signs forwarded events with (`make` makes it on first use), kept in the data
 * folder so that a receiver configured with it keeps verifying from one run to the next.
 */
export async function loadListenSecret(dataDir: string, make: () => string): Promise<string> {
  const secret = (await keep(dataDir, 'listen-secret', `${make()}\n`)).trim()
  if (!secret) throw unusable(dataDir, 'listen-secret', 'is empty')
  return secret
}

function unusable(dataDir: string, name: string, why: string): Error {
  return new Error(`${join(dataDir, name)} ${why}: fix it, or remove it to make a new one`)
}

/**
 * Puts the file in place with `content` when it does not exist yet; returns what the file holds. The file
 * appears whole or not at all: `content` goes to a temporary file first, which is then linked to its name
 * (a link never replaces a file, so when two processes start at once, the second reads the first's).
 */
async function keep(dataDir: string, name: string, content: string): Promise<string> {
  const path = join(dataDir, name)
  await mkdir(dataDir, { recursive: true })
  const temporary = join(dataDir, `.${name}.${randomBytes(8).toString('hex')}`)
  try {
    const file = await open(temporary, 'wx', 0o600)
    try {
      await file.writeFile(content)
      await file.sync()
    } finally {
      await file.close()
    }
    await link(temporary, path)
    return content
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  } finally {
    await rm(temporary, { force: true })
  }
  return readFile(path, 'utf8')
}
