// A browser for full flows over real HTTP: a cookie jar per origin (Secure cookies only over https, as a browser
// keeps them), redirects followed by hand so that each hop can be checked.

export interface Hop { status: number, location: string | undefined, body: string, headers: Headers, url: string }

export class Browser {
  readonly jar = new Map<string, Map<string, string>>()

  cookies (origin: string): Map<string, string> {
    let cookies = this.jar.get(origin)
    if (cookies === undefined) this.jar.set(origin, cookies = new Map())
    return cookies
  }

  private keep (url: URL, headers: Headers): void {
    for (const line of headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';').map((part) => part.trim())
      const [name, ...rest] = pair!.split('=')
      const value = rest.join('=')
      const gone = attributes.some((attribute) => /^max-age=0$/i.test(attribute) ||
        (/^expires=/i.test(attribute) && Date.parse(attribute.slice(8)) <= Date.now()))
      if (gone) this.cookies(url.origin).delete(name!)
      else this.cookies(url.origin).set(name!, value)
    }
  }

  /** One request, no redirect followed. */
  async request (target: string, init: { method?: string, form?: Record<string, string>, json?: unknown, headers?: Record<string, string> } = {}): Promise<Hop> {
    const url = new URL(target)
    const cookie = [...this.cookies(url.origin)].map(([name, value]) => `${name}=${value}`).join('; ')
    const headers: Record<string, string> = { ...init.headers, ...(cookie === '' ? {} : { cookie }) }
    let body: string | undefined
    if (init.form !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(init.form).toString()
    } else if (init.json !== undefined) {
      headers['content-type'] = 'application/json'
      body = JSON.stringify(init.json)
    }
    const response = await fetch(url, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, redirect: 'manual' })
    this.keep(url, response.headers)
    const location = response.headers.get('location') ?? undefined
    return { status: response.status, location: location === undefined ? undefined : new URL(location, url).href, body: await response.text(), headers: response.headers, url: url.href }
  }
}
