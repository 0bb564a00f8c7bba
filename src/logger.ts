import { type Logger, pino } from 'pino'

export type { Logger }

/** Structured JSON logs. Secrets never reach a log line: the redact paths are the last line of defence. */
export function createLogger(level: string, destination?: { write(line: string): unknown }): Logger {
  return pino(
    {
      level,
      base: { service: 'switchyard' },
      redact: {
        paths: [
          'secret',
          '*.secret',
          'authorization',
          '*.authorization',
          'headers.authorization',
          'password',
          '*.password',
        ],
        censor: '[redacted]',
      },
    },
    destination ?? process.stdout,
  )
}
