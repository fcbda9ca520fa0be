/** Prometheus metrics: HTTP traffic per route template, and the auth events that matter. */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AuthObserver, SecurityEvent } from '../../services/ports.js';

export class Metrics implements AuthObserver {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'gatehouse_http_requests_total',
    help: 'HTTP requests by method, route template and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'gatehouse_http_request_duration_seconds',
    help: 'HTTP request latency by route template',
    labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly logins = new Counter({
    name: 'gatehouse_logins_total',
    help: 'Login attempts by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly refreshes = new Counter({
    name: 'gatehouse_refreshes_total',
    help: 'Refresh-token presentations by result (rotated, replayed, refused, reuse_detected)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly reuseDetections = new Counter({
    name: 'gatehouse_refresh_reuse_detected_total',
    help: 'Refresh tokens presented after rotation outside the grace window (session revoked)',
    registers: [this.registry],
  });
  readonly lockouts = new Counter({
    name: 'gatehouse_account_lockouts_total',
    help: 'Accounts (or account+IP pairs) locked after repeated failed logins',
    registers: [this.registry],
  });
  readonly rateLimited = new Counter({
    name: 'gatehouse_rate_limited_total',
    help: 'Requests refused with 429, by route template',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly registrations = new Counter({
    name: 'gatehouse_registrations_total',
    help: 'Accounts created',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gatehouse_' });
  }

  onEvent(event: SecurityEvent): void {
    switch (event.type) {
      case 'login_succeeded':
        this.logins.inc({ result: 'ok' });
        break;
      case 'login_failed':
        this.logins.inc({ result: 'failed' });
        break;
      case 'refresh_rotated':
      case 'refresh_replayed':
      case 'refresh_refused':
      case 'refresh_reuse_detected':
        this.refreshes.inc({ result: event.type.slice('refresh_'.length) });
        if (event.type === 'refresh_reuse_detected') this.reuseDetections.inc();
        break;
      case 'lockout':
        this.lockouts.inc();
        break;
      case 'registered':
        this.registrations.inc();
        break;
      default:
        break;
    }
  }
}

export default fp(
  async function metricsPlugin(app: FastifyInstance, opts: { metrics: Metrics }) {
    const { metrics } = opts;
    app.addHook('onResponse', (request, reply, done) => {
      // The route template, never the raw URL: bounded label cardinality.
      const route = request.routeOptions.url ?? 'unmatched';
      const status = reply.statusCode;
      metrics.requests.inc({ method: request.method, route, status: String(status) });
      metrics.latency.observe({ method: request.method, route }, reply.elapsedTime / 1000);
      if (status === 429) metrics.rateLimited.inc({ route });
      done();
    });
  },
  { name: 'gatehouse-metrics' },
);
