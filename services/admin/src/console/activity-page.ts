import type Router from '@koa/router';
import { html } from '@mcp-auth/web';
import type { AdminDeps } from '../deps.ts';
import { consolePage } from './layout.ts';
import type { ConsoleSession } from './session.ts';

// Filled in once the audit read model is in place.
export function activityPage(router: Router, _deps: AdminDeps, session: ConsoleSession): void {
  router.get('/admin', (ctx) => consolePage(ctx, session, { title: 'Activity', body: html`<p class="muted">Recent events appear here.</p>` }));
}
