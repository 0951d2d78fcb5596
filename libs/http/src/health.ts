import type Router from '@koa/router';
import { Gauge, collectDefaultMetrics, register } from 'prom-client';

export type Readiness = { ready: boolean; checks: Record<string, unknown> };

let defaultMetricsStarted = false;

/** /healthz (the process answers), /readyz (it can serve: NATS connected, projections caught up), /metrics. */
export function healthRoutes(router: Router, readiness: () => Readiness): void {
  if (!defaultMetricsStarted) {
    collectDefaultMetrics();
    defaultMetricsStarted = true;
  }
  router.get('/healthz', (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', (ctx) => {
    const report = readiness();
    ctx.set('Cache-Control', 'no-store');
    ctx.status = report.ready ? 200 : 503;
    ctx.body = { status: report.ready ? 'ready' : 'not_ready', ...report.checks };
  });
  router.get('/metrics', async (ctx) => {
    ctx.set('Content-Type', register.contentType);
    ctx.body = await register.metrics();
  });
}

/** A gauge whose value is read when Prometheus scrapes. */
export function gauge(name: string, help: string, read: () => number): void {
  if (register.getSingleMetric(name)) register.removeSingleMetric(name);
  new Gauge({
    name,
    help,
    collect() {
      this.set(read());
    },
  });
}
