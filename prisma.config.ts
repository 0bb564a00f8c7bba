import { defineConfig } from 'prisma/config'

// Only the CLI reads this file. The app connects through @prisma/adapter-pg (src/db/client.ts),
// and migrations run through our own runner (src/db/migrate.ts).
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost/switchyard' },
})
