// npm run new-connector -- <name>
// Scaffolds connectors/<name>/index.ts (the connector) and registers it, with its tests in test/connectors/: a
// fake provider (<name>/fake.ts) and <name>.test.ts, which runs the shared contract suite. The scaffold passes
// the contract suite as it is; make it yours from there.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../..', import.meta.url))
const name = process.argv[2] ?? ''
if (!/^[a-z][a-z0-9]*$/.test(name)) {
  console.error('usage: npm run new-connector -- <name>   (lower-case letters and digits, such as "discord")')
  process.exit(2)
}
const folder = join(root, 'connectors', name)
const tests = join(root, 'test', 'connectors')
if (existsSync(folder) || existsSync(join(tests, name))) {
  console.error(`connectors/${name} or test/connectors/${name} already exists`)
  process.exit(1)
}
const title = name.charAt(0).toUpperCase() + name.slice(1)

const files: Record<string, string> = {
  [join(folder, 'index.ts')]:
    `// ${title}: POSTs each event, as JSON, to the provider's events endpoint with a bearer token.
// Scaffolded by \`npm run new-connector\`; change the config, test() and deliver() to the provider's API.
import { z } from 'zod'
import { send } from '../http.ts'
import { defineConnector, secret } from '../types.ts'

const configSchema = z.object({
  api_url: z.url({ protocol: /^https?$/ }).describe('Base URL of the ${title} API'),
  api_token: secret(z.string().min(8)).describe('API token, sent as a bearer token'),
})
type ${title}Config = z.infer<typeof configSchema>

export default defineConnector<${title}Config>({
  name: '${name}',
  displayName: '${title}',
  description: 'Send events to ${title}',
  category: 'automation',
  configSchema,
  defaultEvents: ['*'],
  exampleConfig: { api_url: 'https://api.${name}.example.com', api_token: 'example-token-0001' },
  async test(config, ctx) {
    const response = await send(ctx, 'GET', \`\${config.api_url}/ping\`, {
      headers: { authorization: \`Bearer \${config.api_token}\` },
    })
    return { message: 'Connected to ${title}', responseCode: response.status }
  },
  async deliver(event, config, ctx) {
    const response = await send(ctx, 'POST', \`\${config.api_url}/events\`, {
      headers: { authorization: \`Bearer \${config.api_token}\` },
      json: { id: event.id, type: event.type, createdAt: event.createdAt.toISOString(), data: event.data },
    })
    return { message: \`Sent \${event.type} to ${title}\`, responseCode: response.status }
  },
})
`,
  [join(tests, name, 'fake.ts')]: `// A fake ${title} API for the tests: it checks the bearer token and accepts events.
import { json, startFakeProvider } from '../kit.ts'

export const FAKE_${name.toUpperCase()}_TOKEN = 'fake-${name}-token-0001'

export function startFake${title}() {
  return startFakeProvider(
    (request) => {
      if (request.headers.authorization !== \`Bearer \${FAKE_${name.toUpperCase()}_TOKEN}\`) return json({ error: 'unauthorized' }, 401)
      if (request.method === 'GET' && request.path === '/ping') return json({ ok: true })
      if (request.method === 'POST' && request.path === '/events') return json({ accepted: true }, 202)
      return undefined
    },
    (base) => ({ api_url: base, api_token: FAKE_${name.toUpperCase()}_TOKEN }),
  )
}
`,
  [join(tests, `${name}.test.ts`)]: `import { describe, expect, it } from 'vitest'
import ${name} from '../../connectors/${name}/index.ts'
import { connectorContract } from './contract.ts'
import { hubEvent, testContext } from './kit.ts'
import { startFake${title} } from './${name}/fake.ts'

const event = hubEvent('order.created', { order_id: 'ORD-1', amount: 150 })

connectorContract(${name}, { startFake: startFake${title}, event })

describe('${name}', () => {
  it('POSTs the event to the events endpoint', async () => {
    const fake = await startFake${title}()
    try {
      await ${name}.deliver(event, fake.config, testContext())
      expect(fake.requests[0]?.json).toMatchObject({ id: event.id, type: 'order.created', data: event.data })
    } finally {
      await fake.close()
    }
  })
})
`,
}

for (const [path, content] of Object.entries(files)) {
  await mkdir(dirname(path), { recursive: true })
  await writeFile(path, content)
}

const registryPath = join(root, 'connectors', 'registry.ts')
const registry = await readFile(registryPath, 'utf8')
const updated = registry
  .replace(
    /(import type \{ InstalledConnector \} from '\.\/types\.ts'\n)/,
    `import ${name} from './${name}/index.ts'\n$1`,
  )
  .replace(
    /(export const connectors: readonly InstalledConnector\[\] = \[)([^\]]*)\]/,
    (_match, head: string, list: string) => `${head}${list.replace(/,?\s*$/, '')}, ${name}]`,
  )
if (updated === registry) {
  console.error('could not add the connector to connectors/registry.ts; add it by hand')
  process.exit(1)
}
await writeFile(registryPath, updated)

// Biome orders the imports and formats the new files the way the rest of the code is.
spawnSync(join(root, 'node_modules', '.bin', 'biome'), ['check', '--write', ...Object.keys(files), registryPath], {
  stdio: 'ignore',
})
console.log(`created ${relative(process.cwd(), folder)}/ and registered it in connectors/registry.ts`)
console.log(`created its fake provider and tests in ${relative(process.cwd(), tests)}/`)
console.log(`run its tests with: npx vitest run test/connectors/${name}`)
