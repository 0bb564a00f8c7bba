// Tenants' regular expressions (filters' `$regex`, `pattern` and `patternProperties` in payload schemas)
// run on RE2 (re2js, a pure-JavaScript port): matching takes time linear in the input, whatever the
// pattern, so no pattern can stall the process. RE2 has no lookahead, lookbehind or backreferences.
// Linear is time proportional to the input times the pattern's compiled size when RE2's DFA gives up on a
// pattern, so both are bounded: the program's size when the pattern is saved, the input when it is read.
import { LRUCache } from 'lru-cache'
import { RE2JS } from 're2js'

/** The largest compiled program a pattern may have: `[a-z0-9-]{1,63}` is 129, `.{1,255}` is over it. */
export const MAX_REGEX_PROGRAM_SIZE = 300

/** A string longer than this (in UTF-16 code units) never matches a tenant's pattern. */
export const MAX_REGEX_INPUT_LENGTH = 4096

/** A compiled tenant pattern. */
export interface TenantRegex {
  /** Whether the pattern matches somewhere in `input`; always false past MAX_REGEX_INPUT_LENGTH. */
  test(input: string): boolean
}

export class RegexError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'RegexError'
  }
}

const FLAGS: Record<string, number> = {
  i: RE2JS.CASE_INSENSITIVE,
  m: RE2JS.MULTILINE,
  s: RE2JS.DOTALL,
  // RE2 always matches by code point, as JavaScript's `u` flag does.
  u: 0,
}

const compiled = new LRUCache<string, TenantRegex>({ max: 2_000 })

/**
 * A JavaScript-syntax pattern compiled for RE2, with flags among `i`, `m`, `s` and `u`. Throws a
 * RegexError that says why a pattern is refused.
 */
export function compileRegex(pattern: string, flags = ''): TenantRegex {
  const key = `${flags}/${pattern}`
  let regex = compiled.get(key)
  if (!regex) {
    regex = compileUncached(pattern, flags)
    compiled.set(key, regex)
  }
  return regex
}

function compileUncached(pattern: string, flags: string): TenantRegex {
  let mask = 0
  for (const flag of flags) {
    const bit = FLAGS[flag]
    if (bit === undefined) throw new RegexError(`the flag "${flag}" is not supported; use i, m, s or u`)
    mask |= bit
  }
  let regex: RE2JS
  try {
    regex = RE2JS.compile(RE2JS.translateRegExp(pattern), mask)
  } catch (error) {
    const reason = (error as Error).message
    if (isValidJavaScript(pattern)) {
      throw new RegexError(
        'is not supported by RE2, which has no lookahead, lookbehind or backreferences and repeats at most ' +
          `1000 times (patterns run on RE2 so that none can stall matching): ${reason}`,
      )
    }
    throw new RegexError(`is not a valid regular expression: ${reason}`)
  }
  if (regex.programSize() > MAX_REGEX_PROGRAM_SIZE) {
    throw new RegexError(
      `is too complex: it compiles to ${regex.programSize()} instructions, more than ${MAX_REGEX_PROGRAM_SIZE}; ` +
        'use fewer or smaller repetitions (a length check belongs in maxLength)',
    )
  }
  return { test: (input) => input.length <= MAX_REGEX_INPUT_LENGTH && regex.test(input) }
}

/** Compiling with V8 only checks the syntax: nothing is matched, so nothing can backtrack. */
function isValidJavaScript(pattern: string): boolean {
  try {
    new RegExp(pattern)
    return true
  } catch {
    return false
  }
}
