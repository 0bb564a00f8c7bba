// The parts of @mailchimp/mailchimp_marketing's ApiClient that the Mailchimp connector uses. The package
// ships no types, and its default export is one shared client; each call needs its own.
declare module '@mailchimp/mailchimp_marketing/src/ApiClient.js' {
  interface MailchimpResult {
    [key: string]: unknown
  }
  export default class ApiClient {
    basePath: string
    timeout: number
    setConfig(config: { apiKey: string; server: string }): void
    ping: { get(): Promise<MailchimpResult> }
    lists: {
      getList(listId: string): Promise<MailchimpResult>
      setListMember(listId: string, subscriberHash: string, body: object): Promise<MailchimpResult>
      updateListMemberTags(listId: string, subscriberHash: string, body: object): Promise<MailchimpResult>
      createListMemberEvent(listId: string, subscriberHash: string, body: object): Promise<MailchimpResult>
    }
  }
}
