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
  const path = join(dataDir, 'secrets.json')
  await mkdir(dataDir, { recursive: true })
  const fresh: LocalSecrets = {
    jwtSecret: randomBytes(32).toString('base64url'),
    encryptionKey: randomBytes(32).toString('base64url'),
    postgresPassword: randomBytes(18).toString('base64url'),
  }
  try {
    // `wx` fails when the file exists, so two processes starting at once cannot both write it.
    await writeFile(path, `${JSON.stringify(fresh, null, 2)}\n`, { flag: 'wx', mode: 0o600 })
    return fresh
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  return { ...fresh, ...(JSON.parse(await readFile(path, 'utf8')) as Partial<LocalSecrets>) }
}
