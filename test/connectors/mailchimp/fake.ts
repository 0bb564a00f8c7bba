// A fake Mailchimp Marketing API (3.0): ping, lists, members (upsert by subscriber hash), member tags and
// member events, checking HTTP basic auth with the API key as Mailchimp does.
import { json, type ReceivedRequest, startFakeProvider } from '../kit.ts'

export const FAKE_MAILCHIMP_KEY = '0123456789abcdef0123456789abcdef-us21'

export interface FakeMember {
  email_address: string
  status: string
  merge_fields: Record<string, string>
  tags: string[]
  events: Array<{ name: string; properties: Record<string, string> }>
}

export async function startFakeMailchimp() {
  const members = new Map<string, FakeMember>()
  const authorized = (request: ReceivedRequest) =>
    request.headers.authorization === `Basic ${Buffer.from(`user:${FAKE_MAILCHIMP_KEY}`).toString('base64')}`
  const problem = (status: number, title: string, detail: string) => ({
    ...json({ type: 'https://mailchimp.com/developer/marketing/docs/errors/', title, status, detail }, status),
    headers: { 'content-type': 'application/problem+json' },
  })
  const fake = await startFakeProvider(
    (request) => {
      if (!authorized(request)) return problem(401, 'API Key Invalid', 'Your API key may be invalid.')
      const path = request.path.split('?')[0] ?? ''
      if (request.method === 'GET' && path === '/3.0/ping') return json({ health_status: "Everything's Chimpy!" })
      const list = /^\/3\.0\/lists\/([^/]+)(\/members\/([0-9a-f]{32})(\/(tags|events))?)?$/.exec(path)
      if (!list) return undefined
      if (list[1] !== 'list1') return problem(404, 'Resource Not Found', 'The requested resource could not be found.')
      const hash = list[3]
      if (!hash && request.method === 'GET') return json({ id: 'list1', name: 'Newsletter' })
      if (!hash) return undefined
      const body = request.json as Record<string, unknown>
      const member = members.get(hash)
      if (!list[5] && request.method === 'PUT') {
        const next: FakeMember = {
          email_address: String(body.email_address),
          status: member?.status ?? String(body.status_if_new),
          merge_fields: { ...member?.merge_fields, ...(body.merge_fields as Record<string, string>) },
          tags: member?.tags ?? [],
          events: member?.events ?? [],
        }
        members.set(hash, next)
        return json({ id: hash, ...next })
      }
      if (!member) return problem(404, 'Resource Not Found', 'The requested resource could not be found.')
      if (list[5] === 'tags' && request.method === 'POST') {
        for (const tag of body.tags as Array<{ name: string }>)
          if (!member.tags.includes(tag.name)) member.tags.push(tag.name)
        return { status: 204, body: '' }
      }
      if (list[5] === 'events' && request.method === 'POST') {
        member.events.push(body as FakeMember['events'][number])
        return { status: 204, body: '' }
      }
      return undefined
    },
    (base) =>
      ({ api_key: FAKE_MAILCHIMP_KEY, server: 'us21', list_id: 'list1', api_base_url: `${base}/3.0` }) as {
        api_key: string
        server: string
        list_id: string
        api_base_url: string
        status_if_new?: 'subscribed' | 'pending'
      },
  )
  return Object.assign(fake, { members })
}
