import type Router from '@koa/router';
import { html } from '@mcp-auth/web';
import type { AdminDeps } from '../deps.ts';
import { consolePage } from './layout.ts';
import type { ConsoleSession } from './session.ts';
import type { ConsoleActor } from './types.ts';

// Filled in once the webhooks read model is in place.
export function webhookPages(router: Router, _deps: AdminDeps, session: ConsoleSession, _actor: ConsoleActor): void {
  router.get('/admin/webhooks', (ctx) => consolePage(ctx, session, { title: 'Webhooks', body: html`<p class="muted">Webhooks appear here.</p>` }));
}
