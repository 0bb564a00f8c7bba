import { expect, it } from 'vitest'
import { diffMigrationsToSchema } from '../../src/db/schema-diff.ts'

it('the committed migrations produce exactly the schema in schema.prisma', { timeout: 120_000 }, async () => {
  const drift = await diffMigrationsToSchema()
  expect(drift, 'run `npm run db:migration -- --name <change>` and commit the result').toBe('')
})
