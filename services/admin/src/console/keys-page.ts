import type Router from '@koa/router';
import { html } from '@mcp-auth/web';
import { nowSeconds } from '../api/query.ts';
import type { AdminDeps } from '../deps.ts';
import { newestFirst } from '../keys/order.ts';
import { consolePage, when } from './layout.ts';
import type { ConsoleSession } from './session.ts';

const iso = (seconds: number) => new Date(seconds * 1000).toISOString();

/** The token replicas' published signing keys (public halves; private keys never leave their replica). */
export function keysPage(router: Router, deps: AdminDeps, session: ConsoleSession): void {
  router.get('/admin/keys', (ctx) => {
    const now = nowSeconds();
    const keys = newestFirst(deps.signingKeys.all());
    consolePage(ctx, session, {
      title: 'Signing keys',
      body: keys.length === 0 ? html`<p class="muted">No key published yet: a token replica publishes one when it starts.</p>` : html`
<table>
  <thead><tr><th>Key id</th><th>Algorithm</th><th>State</th><th>Signs until</th><th>Retire after</th><th>Retired</th></tr></thead>
  <tbody>
  ${keys.map((k) => html`<tr>
    <td><code>${k.kid}</code></td><td>${k.alg}</td>
    <td>${k.retiredAt ? 'retired' : k.signsUntil > now ? 'signing' : 'verifying only'}</td>
    <td>${when(iso(k.signsUntil))}</td><td>${when(iso(k.retireAfter))}</td><td>${when(k.retiredAt)}</td>
  </tr>`)}
  </tbody>
</table>`,
    });
  });
}
