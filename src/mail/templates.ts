/** The mails Gatehouse sends: small plain-text and HTML templates, links from PUBLIC_URL. */
import type { MailMessage } from '../services/ports.js';

const escapeHtml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function describe(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  return `${Math.round(seconds / 60)} minutes`;
}

function render(to: string, subject: string, lines: { intro: string; action: string; link: string; outro: string }): MailMessage {
  const text = `${lines.intro}\n\n${lines.action}:\n${lines.link}\n\n${lines.outro}\n`;
  const html =
    `<!doctype html><html><body style="font-family:sans-serif">` +
    `<p>${escapeHtml(lines.intro)}</p>` +
    `<p><a href="${escapeHtml(lines.link)}">${escapeHtml(lines.action)}</a></p>` +
    `<p style="color:#666">${escapeHtml(lines.outro)}</p></body></html>`;
  return { to, subject, text, html };
}

export function verificationMail(to: string, link: string, ttlSeconds: number): MailMessage {
  return render(to, 'Verify your email address', {
    intro: 'Please confirm that this address belongs to your account.',
    action: 'Verify my email address',
    link,
    outro: `The link works once and expires in ${describe(ttlSeconds)}. If you did not create an account, ignore this mail.`,
  });
}

export function passwordResetMail(to: string, link: string, ttlSeconds: number): MailMessage {
  return render(to, 'Reset your password', {
    intro: 'Someone (hopefully you) asked to reset the password of your account.',
    action: 'Choose a new password',
    link,
    outro: `The link works once and expires in ${describe(ttlSeconds)}. Resetting signs you out everywhere. If you did not ask, ignore this mail: your password stays as it is.`,
  });
}
