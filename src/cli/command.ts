/** What every `gatehouse` command is, and the one way commands get their services. */
import type { Config } from '../config/index.js';
import { buildServices, type Services } from '../composition.js';

/** A command: its arguments after the command's name; resolves to the exit code (-1: keep running). */
export type Command = (args: string[], config: Readonly<Config>) => Promise<number>;

/** Builds the services as the server does (composition.ts), runs `fn`, and closes them. */
export async function withServices<T>(config: Readonly<Config>, fn: (services: Services) => Promise<T>): Promise<T> {
  const services = await buildServices(config);
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}
