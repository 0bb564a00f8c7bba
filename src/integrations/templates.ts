// Message templates: Liquid (liquidjs), which runs no code and, with ownPropertyOnly, reaches no
// prototype. Limits bound what a template may cost. Templates are parsed once and cached.
import { Liquid, Tag, type Template } from 'liquidjs'
import { LRUCache } from 'lru-cache'
import type { HubEvent } from '../../connectors/types.ts'
import { badInput } from '../errors.ts'

const engine = new Liquid({
  ownPropertyOnly: true,
  strictFilters: true,
  parseLimit: 20_000,
  // A render runs on the worker's thread: one tenant's template may hold it this long at most.
  renderLimit: 50,
  memoryLimit: 1_000_000,
})

// Templates stand alone: the tags that read other files are refused when a template is parsed.
for (const name of ['include', 'render', 'layout']) {
  engine.registerTag(
    name,
    class extends Tag {
      constructor(...args: ConstructorParameters<typeof Tag>) {
        super(...args)
        throw new Error(`the {% ${name} %} tag is not available in message templates`)
      }
      *render(): Generator<never, void> {}
    },
  )
}

const MAX_TEMPLATE_LENGTH = 4000
/** Parsed templates, the most recently used kept; one that does not parse throws and is not kept. */
const parsed = new LRUCache<string, Template[]>({ max: 1000, memoMethod: (template) => engine.parse(template) })

const parse = (template: string): Template[] => parsed.memo(template)

/** Checks a template at configure time; a template that does not parse is refused with the parse error. */
export function checkTemplate(template: string, field: string): void {
  if (template.length > MAX_TEMPLATE_LENGTH) {
    throw badInput(`${field} may be at most ${MAX_TEMPLATE_LENGTH} characters`, { field })
  }
  try {
    parse(template)
  } catch (error) {
    throw badInput(`${field} is not a valid template: ${(error as Error).message}`, { field })
  }
}

/** What a template sees: the payload's fields at the top level, and the event as `event`. */
export function templateScope(event: HubEvent): Record<string, unknown> {
  const data = event.data && typeof event.data === 'object' && !Array.isArray(event.data) ? event.data : {}
  return {
    ...(data as Record<string, unknown>),
    event: { id: event.id, type: event.type, created_at: event.createdAt.toISOString(), data: event.data },
  }
}

/**
 * The longest message a template may render, as liquidjs's memoryLimit is for what filters allocate:
 * output written piece by piece is not counted there. Until something reads its characters, a string
 * built that way costs little, so it is measured before anything does.
 */
const MAX_RENDERED_LENGTH = 1_000_000

export function renderTemplate(template: string, event: HubEvent): string {
  const rendered = engine.renderSync(parse(template), templateScope(event)) as string
  if (rendered.length > MAX_RENDERED_LENGTH) {
    throw new Error(`the rendered message would be longer than ${MAX_RENDERED_LENGTH} characters`)
  }
  return rendered
}
