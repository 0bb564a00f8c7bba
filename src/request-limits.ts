// Bounds on what any caller, with a token or without, can make the API read, parse and validate:
// the request body, checked before anything else, and the GraphQL document's shape, checked once the
// request has been admitted and counted against the rate limit (auth/admission.ts) and before it runs.
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor'
import { BREAK, type DocumentNode, GraphQLError, type ValidationContext, visit } from 'graphql'
import type { Plugin } from 'graphql-yoga'
import { forbidden, unauthenticated } from './errors.ts'
import type { Context } from './schema/context.ts'

/**
 * The document limits, fitted to our schema. Its deepest query (a delivery's webhook's retry policy, under
 * a connection) is 6 levels deep and GraphiQL's introspection query 15, fragments counted inline; a page
 * of 100 deliveries with every field of theirs, their attempts' and their webhook's costs 38,084 by
 * graphql-armor's measure (objects 2, scalars 1, times 1.5 per level, times `first` on a connection).
 */
export const QUERY_LIMITS = {
  depth: 15,
  aliases: 30,
  tokens: 5_000,
  directives: 30,
  cost: 50_000,
} as const

/** An over-limit document: BAD_USER_INPUT (HTTP 400), refused before it runs. */
function refuse(context: ValidationContext | null, error: GraphQLError): void {
  const refusal = new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
    extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
  })
  // Validation rules report theirs; the token count runs inside the parser, which has no context.
  if (context) context.reportError(refusal)
  else throw refusal
}

const rejection = { propagateOnRejection: false, onReject: [refuse] }

/** graphql-armor's limits, for HTTP and graphql-ws alike (both parse and validate through envelop). */
export function queryShapeLimits(): Plugin {
  return EnvelopArmorPlugin({
    maxDepth: { n: QUERY_LIMITS.depth, ignoreIntrospection: false, flattenFragments: true, ...rejection },
    maxAliases: { n: QUERY_LIMITS.aliases, ...rejection },
    maxTokens: { n: QUERY_LIMITS.tokens, ...rejection },
    maxDirectives: { n: QUERY_LIMITS.directives, ...rejection },
    costLimit: { maxCost: QUERY_LIMITS.cost, ...rejection },
  }) as Plugin
}

/**
 * Introspection (`__schema`, `__type`) needs a token whose scope grants `read`, as the root types' fields
 * do (builder.ts): UNAUTHENTICATED without a token, FORBIDDEN with one whose scope names neither right.
 */
export function introspectionNeedsReadScope(): Plugin<Context> {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const { tenantId, scopes } = args.contextValue
      if (scopes.has('read') || !asksForSchema(args.document)) return
      setResultAndStopExecution({
        errors: [
          tenantId === null
            ? unauthenticated('introspection needs "Authorization: Bearer <token>"')
            : forbidden('this token’s scope allows nothing; introspection needs the `read` scope'),
        ],
      })
    },
  }
}

function asksForSchema(document: DocumentNode): boolean {
  let found = false
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        found = true
        return BREAK
      }
      return undefined
    },
  })
  return found
}

/**
 * Request bodies of at most `maxBytes`, enforced while reading: a declared Content-Length over it is
 * refused at once (Node's HTTP parser never reads past a declared length), and a body sent without one
 * (chunked) is read up to the limit and refused the moment it goes over. Either way the answer is HTTP 413,
 * and the rest of the body is read and dropped, never kept (Node does so for a body nobody read, within
 * its requestTimeout), so that the client gets the 413 rather than a reset connection.
 */
export function bodyLimit(maxBytes: number, graphqlEndpoint: string): Plugin {
  return {
    async onRequest({ request, url, setRequest, endResponse, fetchAPI }) {
      if (!request.body) return
      const tooLarge = () => {
        const message = `the request body may be at most ${maxBytes} bytes`
        const body =
          url.pathname === graphqlEndpoint
            ? { errors: [{ message, extensions: { code: 'BAD_USER_INPUT', limit: maxBytes } }] }
            : { error: message }
        endResponse(fetchAPI.Response.json(body, { status: 413 }))
      }
      const declared = request.headers.get('content-length')
      if (declared !== null) {
        if (Number(declared) > maxBytes) tooLarge()
        return
      }
      const chunks: Uint8Array[] = []
      let size = 0
      const reader = request.body.getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        size += value.byteLength
        if (size > maxBytes) {
          void discard(reader)
          tooLarge()
          return
        }
        chunks.push(value)
      }
      const headers = new fetchAPI.Headers(request.headers)
      headers.delete('transfer-encoding')
      headers.set('content-length', String(size))
      setRequest(
        new fetchAPI.Request(request.url, {
          method: request.method,
          headers,
          body: Buffer.concat(chunks),
          signal: request.signal,
        }),
      )
    },
  }
}

async function discard(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  try {
    while (!(await reader.read()).done) {}
  } catch {
    // The client went away.
  }
}
