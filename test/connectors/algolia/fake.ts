// A fake Algolia search API: records (add or replace, delete) and index settings, checking the
// application id and API key headers as Algolia does.
import { json, startFakeProvider } from '../kit.ts'

export const FAKE_ALGOLIA_APP = 'APP1234567'
export const FAKE_ALGOLIA_KEY = 'fake-algolia-admin-key-0001'

export async function startFakeAlgolia() {
  const indices = new Map<string, Map<string, Record<string, unknown>>>()
  let taskID = 100
  const fake = await startFakeProvider(
    (request) => {
      if (
        request.headers['x-algolia-application-id'] !== FAKE_ALGOLIA_APP ||
        request.headers['x-algolia-api-key'] !== FAKE_ALGOLIA_KEY
      ) {
        return json({ message: 'Invalid Application-ID or API key', status: 403 }, 403)
      }
      const match = /^\/1\/indexes\/([^/?]+)(\/([^/?]+))?/.exec(request.path)
      if (!match) return undefined
      const index = decodeURIComponent(match[1] ?? '')
      const objectID = match[3] === undefined ? undefined : decodeURIComponent(match[3])
      const records = indices.get(index)
      if (objectID === 'settings' && request.method === 'GET') {
        return records
          ? json({ searchableAttributes: null })
          : json({ message: 'Index does not exist', status: 404 }, 404)
      }
      if (objectID && request.method === 'PUT') {
        const target = records ?? new Map()
        indices.set(index, target)
        target.set(objectID, request.json as Record<string, unknown>)
        return json({ objectID, taskID: taskID++, updatedAt: new Date().toISOString() })
      }
      if (objectID && request.method === 'DELETE') {
        records?.delete(objectID)
        return json({ taskID: taskID++, deletedAt: new Date().toISOString() })
      }
      return undefined
    },
    (base) =>
      ({ app_id: FAKE_ALGOLIA_APP, api_key: FAKE_ALGOLIA_KEY, index_name: 'articles', api_base_url: base }) as {
        app_id: string
        api_key: string
        index_name: string
        api_base_url: string
        attributes?: Record<string, string>
      },
  )
  return Object.assign(fake, { indices })
}
