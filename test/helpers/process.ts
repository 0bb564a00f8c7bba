// Runs `node src/main.ts <role>` as a child process, as `npm start` / `npm run api|worker` would, and the
// other commands (`npm run listen`) likewise.
import { type ChildProcess, spawn } from 'node:child_process'

export interface NodeProcess {
  child: ChildProcess
  output(): string
  /** Resolves with the first match of `pattern` in stdout+stderr. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
  exited: Promise<number | null>
}

export type HubProcess = NodeProcess

export function spawnHub(args: string[], env: Record<string, string | undefined>): HubProcess {
  return spawnNode('src/main.ts', args, env)
}

/** Runs one of our scripts with this Node, in this environment (less DATABASE_URL) plus `env`. */
export function spawnNode(script: string, args: string[], env: Record<string, string | undefined>): NodeProcess {
  const { DATABASE_URL: _inherited, ...base } = process.env
  const child = spawn(process.execPath, [script, ...args], { env: { ...base, ...env } })
  let output = ''
  const waiters = new Set<() => void>()
  const onData = (chunk: Buffer) => {
    output += chunk.toString()
    for (const check of waiters) check()
  }
  child.stdout?.on('data', onData)
  child.stderr?.on('data', onData)
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))

  return {
    child,
    output: () => output,
    exited,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`timed out waiting for ${pattern}; output so far:\n${output}`))
        }, timeoutMs)
        const check = () => {
          const match = output.match(pattern)
          if (!match) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve(match)
        }
        waiters.add(check)
        check()
        void exited.then(() =>
          setTimeout(() => waiters.has(check) && reject(new Error(`exited before ${pattern}:\n${output}`)), 50),
        )
      })
    },
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null) child.kill(signal)
      return exited
    },
  }
}
