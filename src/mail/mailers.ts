/**
 * Mail delivery: SMTP through nodemailer, or, in development without SMTP_URL, a log line
 * (clearly marked) with the mail's text so the link can be followed. Never in production:
 * config refuses to start there without SMTP_URL while email flows are on.
 */
import { createRequire } from 'node:module';
import type * as Nodemailer from 'nodemailer';
import type { MailMessage, Mailer } from '../services/ports.js';

const require = createRequire(import.meta.url);

export class SmtpMailer implements Mailer {
  private readonly transport: Nodemailer.Transporter;

  constructor(
    smtpUrl: string,
    private readonly from: string,
  ) {
    // Loaded only when SMTP is configured (nodemailer costs a server without it several
    // MB), and synchronously, so a malformed SMTP_URL still stops the start-up.
    const nodemailer = require('nodemailer') as typeof Nodemailer;
    this.transport = nodemailer.createTransport(smtpUrl);
  }

  async send(message: MailMessage): Promise<void> {
    await this.transport.sendMail({ from: this.from, to: message.to, subject: message.subject, text: message.text, html: message.html });
  }

  close(): void {
    this.transport.close();
  }
}

export class LogMailer implements Mailer {
  constructor(private readonly log: (fields: Record<string, unknown>, msg: string) => void) {}

  async send(message: MailMessage): Promise<void> {
    this.log(
      { mail: { to: message.to, subject: message.subject, text: message.text } },
      'DEVELOPMENT MAIL, NOT SENT (SMTP_URL is not set): the link below is live',
    );
  }
}
