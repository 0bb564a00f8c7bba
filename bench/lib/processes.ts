// Child processes of the bench (hub roles, the sink, the hello server) and what they cost in CPU.
import { type ChildProcess, spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const projectRoot = fileURLToPath(new URL('../..', import.meta.url))

export interface Child {
  name: string
  process: ChildProcess
  output(): string
  /** Resolves with the first match of `pattern` in its output. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  stop(): Promise<void>
}

export function spawnChild(
  name: string,
  args: string[],
  env: Record<string, string> = {},
  cwd: string = projectRoot,
): Child {
  const child = spawn(process.execPath, args, { cwd, env: { ...process.env, ...env } })
  let output = ''
  const waiters = new Set<() => void>()
  const collect = (chunk: Buffer) => {
    output += chunk.toString()
    if (output.length > 1_000_000) output = output.slice(-500_000)
    for (const waiter of waiters) waiter()
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    name,
    process: child,
    output: () => output,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`${name}: timed out waiting for ${pattern}\n${output.slice(-2000)}`))
        }, timeoutMs)
        const check = () => {
          const match = output.match(pattern)
          if (match) {
            clearTimeout(timer)
            waiters.delete(check)
            resolve(match)
          } else if (child.exitCode !== null) {
            clearTimeout(timer)
            waiters.delete(check)
            reject(new Error(`${name} exited (${child.exitCode}) before ${pattern}:\n${output.slice(-2000)}`))
          }
        }
        waiters.add(check)
        child.once('exit', check)
        check()
      })
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      await exited
      clearTimeout(timer)
    },
  }
}

/** Starts a helper that prints `{"port": n}` once listening; resolves with the port. */
export async function startListening(name: string, script: string): Promise<{ child: Child; port: number }> {
  const child = spawnChild(name, [script])
  const [line] = await child.waitFor(/\{"port":\d+\}/)
  return { child, port: (JSON.parse(line) as { port: number }).port }
}

const CLOCK_TICKS = 100

/** utime, stime, cutime, cstime (CPU of the process, and of its children that have ended), and ppid. */
function statOf(pid: number): { own: number; endedChildren: number; parent: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return {
      own: Number(fields[11]) + Number(fields[12]),
      endedChildren: Number(fields[13]) + Number(fields[14]),
      parent: Number(fields[1]),
    }
  } catch {
    return undefined
  }
}

function ticksOf(pid: number): number {
  return statOf(pid)?.own ?? 0
}

/**
 * PostgreSQL's CPU so far: every live postgres process, plus what its postmasters' ended children
 * (backends that closed) used, so that backends coming and going do not lose their time. Given the bench's
 * own postmaster, only that server's processes: another cluster on the machine (a test run's) stopping
 * mid-window would otherwise take its time out of the sum.
 */
function postgresTicks(postmaster: number | undefined): number {
  const stats = new Map<number, NonNullable<ReturnType<typeof statOf>>>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue
    } catch {
      continue
    }
    const stat = statOf(Number(entry))
    if (!stat) continue
    if (postmaster !== undefined && Number(entry) !== postmaster && stat.parent !== postmaster) continue
    stats.set(Number(entry), stat)
  }
  let total = 0
  for (const stat of stats.values()) {
    total += stat.own
    if (!stats.has(stat.parent)) total += stat.endedChildren
  }
  return total
}

/** The postmaster of a backend (`SELECT pg_backend_pid()`), when that server runs on this machine. */
export function postmasterOf(backendPid: number): number | undefined {
  return statOf(backendPid)?.parent
}

export interface CpuSample {
  at: number
  ticks: Map<string, number>
}

/**
 * CPU time so far of each named process, PostgreSQL's summed over all its processes (those of `postmaster`
 * when known, else every postgres process on the machine).
 */
export function sampleCpu(children: readonly Child[], postmaster?: number): CpuSample {
  const ticks = new Map<string, number>()
  const own = process.cpuUsage()
  ticks.set('driver', ((own.user + own.system) / 1e6) * CLOCK_TICKS)
  for (const child of children) if (child.process.pid) ticks.set(child.name, ticksOf(child.process.pid))
  ticks.set('postgres', postgresTicks(postmaster))
  return { at: performance.now(), ticks }
}

/** Percent of one core each process used between two samples (200% = both cores of a 2-core machine). */
export function cpuBetween(before: CpuSample, after: CpuSample): Record<string, number> {
  const seconds = (after.at - before.at) / 1000
  const result: Record<string, number> = {}
  for (const [name, ticks] of after.ticks) {
    const spent = Math.max(0, ticks - (before.ticks.get(name) ?? 0)) / CLOCK_TICKS
    result[name] = Math.round((spent / seconds) * 100)
  }
  return result
}
