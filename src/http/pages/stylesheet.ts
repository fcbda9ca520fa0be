/**
 * The one stylesheet of every hosted page (sign-in, consent, logout, errors, the mailed
 * links' pages). A deployment restyles it through the custom properties in :root, e.g.
 * by serving its own copy of this file at /assets/gatehouse.css from its proxy; the logo
 * is --gh-logo (any CSS image: a data: URI or a same-origin URL).
 */
export const STYLESHEET = `:root {
  --gh-font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  --gh-bg: #f3f4f6;
  --gh-card-bg: #ffffff;
  --gh-text: #1f2937;
  --gh-muted: #6b7280;
  --gh-border: #d1d5db;
  --gh-primary: #1d4ed8;
  --gh-primary-text: #ffffff;
  --gh-primary-hover: #1e40af;
  --gh-danger-bg: #fef2f2;
  --gh-danger-text: #991b1b;
  --gh-radius: 10px;
  --gh-passkey-icon: url("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 24 24'%3E%3Ccircle cx='9' cy='7' r='4'/%3E%3Cpath d='M2 20v-1a6 6 0 0 1 6-6h2a6 6 0 0 1 3 .8V20z'/%3E%3Cpath d='M19 9a3 3 0 0 0-1 5.8V21l1.5 1.5L21 21v-1l-1-1 1-1-1-1v-2.2A3 3 0 0 0 19 9zm0 1.5a1 1 0 1 1 0 2 1 1 0 0 1 0-2z'/%3E%3C/svg%3E");
  --gh-logo: url("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'%3E%3Crect width='32' height='32' rx='8' fill='%231d4ed8'/%3E%3Cpath d='M9 25V14l7-6 7 6v11h-5v-6h-4v6z' fill='white'/%3E%3C/svg%3E");
}
@media (prefers-color-scheme: dark) {
  :root {
    --gh-bg: #111827;
    --gh-card-bg: #1f2937;
    --gh-text: #f9fafb;
    --gh-muted: #9ca3af;
    --gh-border: #374151;
    --gh-primary: #3b82f6;
    --gh-primary-hover: #2563eb;
    --gh-danger-bg: #450a0a;
    --gh-danger-text: #fecaca;
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
html { font-family: var(--gh-font); color: var(--gh-text); background: var(--gh-bg); }
body { margin: 0; min-height: 100vh; display: flex; align-items: flex-start; justify-content: center; padding: 8vh 16px 32px; }
.gh-card { width: 100%; max-width: 400px; background: var(--gh-card-bg); border: 1px solid var(--gh-border); border-radius: var(--gh-radius); padding: 32px; box-shadow: 0 10px 30px rgba(0, 0, 0, 0.06); }
.gh-brand { display: flex; align-items: center; gap: 10px; margin-bottom: 24px; font-weight: 600; }
.gh-logo { width: 32px; height: 32px; background: var(--gh-logo) center / contain no-repeat; }
h1 { font-size: 1.4rem; margin: 0 0 12px; }
p { line-height: 1.5; margin: 0 0 16px; }
.gh-muted { color: var(--gh-muted); font-size: 0.9rem; }
form { display: flex; flex-direction: column; gap: 14px; margin: 0; }
label { display: flex; flex-direction: column; gap: 6px; font-weight: 500; font-size: 0.95rem; }
input[type="text"], input[type="email"], input[type="password"] {
  font: inherit; padding: 10px 12px; border: 1px solid var(--gh-border); border-radius: 8px; background: var(--gh-card-bg); color: var(--gh-text);
}
input:focus-visible, button:focus-visible { outline: 3px solid var(--gh-primary); outline-offset: 2px; }
button { font: inherit; font-weight: 600; padding: 11px 14px; border-radius: 8px; border: 1px solid transparent; cursor: pointer; }
button.gh-primary { background: var(--gh-primary); color: var(--gh-primary-text); }
button.gh-primary:hover { background: var(--gh-primary-hover); }
button.gh-secondary { background: transparent; color: var(--gh-text); border-color: var(--gh-border); }
.gh-actions { display: flex; gap: 10px; }
.gh-actions button { flex: 1; }
.gh-alert { background: var(--gh-danger-bg); color: var(--gh-danger-text); padding: 10px 12px; border-radius: 8px; }
.gh-scopes { margin: 0 0 16px; padding-left: 20px; line-height: 1.7; }
a { color: var(--gh-primary); }
.gh-passkey { margin-top: 18px; }
.gh-or { display: flex; align-items: center; gap: 10px; color: var(--gh-muted); font-size: 0.85rem; margin: 0; }
.gh-or::before, .gh-or::after { content: ""; flex: 1; border-top: 1px solid var(--gh-border); }
.gh-passkey button { display: flex; align-items: center; justify-content: center; gap: 8px; }
.gh-passkey button::before { content: ""; width: 18px; height: 18px; background: currentColor; -webkit-mask: var(--gh-passkey-icon) center / contain no-repeat; mask: var(--gh-passkey-icon) center / contain no-repeat; }
`;
