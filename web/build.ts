// Builds the dashboard: web/src/main.tsx → web/dist/ (index.html, assets/app.js, assets/app.css).
// `npm install` runs it (postinstall); `npm run web:build` runs it again, `npm run web:dev` on every change.
import { copyFile, mkdir, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type BuildOptions, build, context } from 'esbuild'

const root = dirname(fileURLToPath(import.meta.url))
export const DIST = join(root, 'dist')

const options: BuildOptions = {
  entryPoints: { app: join(root, 'src/main.tsx') },
  outdir: join(DIST, 'assets'),
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: 'linked',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
}

/** Builds the dashboard into web/dist (emptied first). */
export async function buildDashboard(): Promise<void> {
  await rm(DIST, { recursive: true, force: true })
  await mkdir(DIST, { recursive: true })
  await copyFile(join(root, 'index.html'), join(DIST, 'index.html'))
  await build(options)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await buildDashboard()
  if (process.argv.includes('--watch')) {
    const watching = await context({ ...options, logLevel: 'info' })
    await watching.watch()
    console.log('watching web/src; reload the page after a change')
  }
}
