/**
 * A minimal browser for the OpenID Connect tests over real HTTP: a cookie jar, redirects
 * followed by hand (so a test sees each hop), and the hosted pages' forms read from their
 * HTML and posted back as a browser would (hidden fields included).
 */

export interface Form {
  action: string;
  fields: Record<string, string>;
}

const unescape = (s: string) =>
  s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!);

export class UserAgent {
  readonly cookies = new Map<string, string>();

  constructor(readonly origin: string) {}

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('accept', 'text/html');
    if (this.cookies.size > 0 && new URL(url, this.origin).origin === this.origin) headers.set('cookie', this.cookieHeader());
    const res = await fetch(new URL(url, this.origin), { ...init, headers, redirect: 'manual' });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/max-age=0/i.test(cookie) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** Posts a form as a browser does (same-origin Origin header, urlencoded). */
  post(form: Form, extra: Record<string, string> = {}, options: { origin?: string | null } = {}): Promise<Response> {
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
    if (options.origin !== null) headers.origin = options.origin ?? this.origin;
    return this.fetch(form.action, { method: 'POST', headers, body: new URLSearchParams({ ...form.fields, ...extra }) });
  }

  /**
   * Follows redirects while they stay at Gatehouse; returns the last response and, when a
   * redirect leaves for `callbackPrefix`, that URL (not fetched).
   */
  async follow(res: Response, callbackPrefix: string): Promise<{ res: Response; callback: URL | undefined }> {
    let current = res;
    for (let hops = 0; hops < 10; hops++) {
      if (current.status < 300 || current.status >= 400) return { res: current, callback: undefined };
      const location = current.headers.get('location');
      if (!location) throw new Error(`redirect ${current.status} without Location`);
      const next = new URL(location, this.origin);
      if (next.toString().startsWith(callbackPrefix)) return { res: current, callback: next };
      current = await this.fetch(next);
    }
    throw new Error('too many redirects');
  }
}

/** The first form on the page (or the one whose action matches), with its hidden and preset fields. */
export function readForm(html: string, action?: string): Form {
  const forms = [...html.matchAll(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)];
  const match = action ? forms.find((f) => unescape(f[1]!) === action) : forms[0];
  if (!match) throw new Error(`no form${action ? ` to ${action}` : ''} in page: ${html.slice(0, 500)}`);
  const fields: Record<string, string> = {};
  for (const input of match[2]!.matchAll(/<input([^>]*)>/g)) {
    const name = /name="([^"]*)"/.exec(input[1]!)?.[1];
    const value = /value="([^"]*)"/.exec(input[1]!)?.[1];
    if (name && value !== undefined) fields[unescape(name)] = unescape(value);
  }
  return { action: unescape(match[1]!), fields };
}

/** The hidden fields of a form_post response page (the authorization response). */
export function formPostParams(html: string): { action: string; params: Record<string, string> } {
  const form = readForm(html);
  return { action: form.action, params: form.fields };
}
