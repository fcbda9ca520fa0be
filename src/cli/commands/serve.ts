/** `gatehouse serve`: the HTTP server (loaded only here: no other command starts Fastify). */
import type { Command } from '../command.js';

export const serveCommand: Command = async (_args, config) => {
  const { serve } = await import('../../server.js');
  await serve(config);
  return -1; // keep running
};
