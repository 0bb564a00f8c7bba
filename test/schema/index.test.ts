import { readFile } from 'node:fs/promises'
import { printSchema } from 'graphql'
import { expect, it } from 'vitest'
import { schema } from '../../src/schema/index.ts'

it('schema.graphql matches the Pothos schema', async () => {
  const committed = await readFile(new URL('../../schema.graphql', import.meta.url), 'utf8')
  expect(committed, 'schema.graphql is stale: run `npm run schema`').toBe(`${printSchema(schema)}\n`)
})
