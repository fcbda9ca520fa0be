/**
 * Server-rendered HTML for the hosted pages: one layout, one stylesheet, no framework. The
 * only scripts: the form_post auto-submit (inline, allowed by its hash) and the passkey
 * script of the sign-in pages (a file of Gatehouse's, allowed by its exact URL).
 * Every value is escaped here; callers pass plain strings.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import type { Messages } from './messages.js';

export const STYLESHEET_PATH = '/assets/gatehouse.css';

export const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A trusted fragment of HTML (built by this module's helpers, values escaped). */
export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

/** Tagged template: interpolated strings are escaped, Html fragments and arrays of them are not. */
export function html(strings: TemplateStringsArray, ...values: Array<string | number | Html | Html[] | undefined | false>): Html {
  let out = strings[0]!;
  values.forEach((value, i) => {
    if (Array.isArray(value)) out += value.map((v) => v.value).join('');
    else if (value instanceof Html) out += value.value;
    else if (value !== undefined && value !== false) out += escapeHtml(String(value));
    out += strings[i + 1]!;
  });
  return new Html(out);
}

export const hidden = (name: string, value: string): Html => html`<input type="hidden" name="${name}" value="${value}">`;

export interface PageOptions {
  status?: number;
  title: string;
  body: Html;
  messages: Messages;
  /** Origins a form on this page may lead to (a client's redirect URI after sign-in or consent). */
  formTargets?: string[];
  /** SHA-256 hashes of inline scripts allowed on this page. */
  scriptHashes?: string[];
  /** Absolute URLs of Gatehouse's own script files this page loads (each named exactly, not 'self'). */
  scriptUrls?: string[];
  /** The page's script may fetch from Gatehouse itself (connect-src 'self'). */
  connectSelf?: boolean;
}

/** CSP for a page: its stylesheet, forms to itself (and the client it returns to), never framed. */
function pageCsp(options: PageOptions): string {
  const formAction = ["'self'", ...(options.formTargets ?? [])].join(' ');
  const scripts = [...(options.scriptHashes ?? []).map((h) => `'sha256-${h}'`), ...(options.scriptUrls ?? [])];
  const script = scripts.length > 0 ? scripts.join(' ') : "'none'";
  const connect = options.connectSelf ? " connect-src 'self';" : '';
  return `default-src 'none'; style-src 'self'; img-src 'self' data:; script-src ${script};${connect} form-action ${formAction}; frame-ancestors 'none'; base-uri 'none'`;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** PUBLIC_URL's path, '' at the root of its host (Config.publicPath), decorated by app.ts. */
    publicPath: string;
  }
}

export function sendPage(reply: FastifyReply, options: PageOptions): FastifyReply {
  const { messages, title } = options;
  // Under PUBLIC_URL's path, where the browser reaches us through the proxy.
  const stylesheet = `${reply.server.publicPath ?? ''}${STYLESHEET_PATH}`;
  const document = html`<!doctype html>
<html lang="${messages.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${title} · ${messages.t('brand.name')}</title>
<link rel="stylesheet" href="${stylesheet}">
</head>
<body>
<main class="gh-card">
<header class="gh-brand"><span class="gh-logo" aria-hidden="true"></span><span class="gh-name">${messages.t('brand.name')}</span></header>
<h1>${title}</h1>
${options.body}
</main>
</body>
</html>
`;
  return reply
    .code(options.status ?? 200)
    .type('text/html; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('content-security-policy', pageCsp(options))
    // Not no-referrer: under it browsers send `Origin: null` on the pages' own form posts,
    // and the CSRF check wants to see our origin. Nothing leaves for other sites either way.
    .header('referrer-policy', 'same-origin')
    .send(document.value);
}

export function scriptHash(source: string): string {
  return createHash('sha256').update(source).digest('base64');
}

export function alert(message: string | undefined): Html | undefined {
  return message === undefined ? undefined : html`<p class="gh-alert" role="alert">${message}</p>`;
}

/** origin of a URL, for form-action; undefined for a scheme CSP cannot name safely. */
export function originOf(uri: string): string | undefined {
  try {
    const url = new URL(uri);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}
