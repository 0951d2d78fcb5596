// bench-peers adapter for this stack: a user who is already signed in and has already consented.
// The first flow of the load-generator process signs in through the real HTML forms and allows the client;
// every later flow sends that session cookie, and /authorize answers at once with a code (remembered consent),
// which is what M2 measures: authorize with an existing session → code → token.
// adapterOptions: { username, password }

let session = null;

const formOf = (html) => {
  const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/.exec(html);
  if (!form) return null;
  const fields = {};
  for (const input of form[2].matchAll(/<input([^>]*)>/g)) {
    const name = /name="([^"]*)"/.exec(input[1])?.[1];
    const type = /type="([^"]*)"/.exec(input[1])?.[1] ?? 'text';
    if (!name || (type === 'checkbox' && !/\bchecked\b/.test(input[1]))) continue;
    fields[name.replace(/&amp;/g, '&')] = (/value="([^"]*)"/.exec(input[1])?.[1] ?? '').replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
  }
  return { action: form[1], fields };
};

async function signInAndConsent(url, ctx) {
  const origin = new URL(url).origin;
  let cookie = '';
  const remember = (res) => {
    for (const line of [res.headers['set-cookie'] ?? []].flat()) {
      const pair = line.split(';')[0];
      if (pair.startsWith('mcp_session=') || pair.startsWith('__Host-mcp_session=')) cookie = pair;
    }
  };
  let res = await ctx.http(url);
  for (let step = 0; step < 6; step++) {
    if (res.status >= 300 && res.status < 400 && res.location) {
      const cb = ctx.callbackParams(res.location);
      if (cb) return { cookie, cb };
      res = await ctx.http(new URL(res.location, origin).href, { headers: { origin } });
      continue;
    }
    const form = formOf(res.text);
    if (!form) throw new Error(`signed-in-user adapter: no form at step ${step}: HTTP ${res.status} ${res.text.slice(0, 200)}`);
    const body = { ...form.fields, username: ctx.options.username, password: ctx.options.password };
    res = await ctx.http(new URL(form.action, origin).href, { method: 'POST', body, headers: { origin } });
    remember(res);
  }
  throw new Error('signed-in-user adapter: too many steps');
}

export default async function authorize(authorizationUrl, ctx) {
  if (!session) {
    session = signInAndConsent(authorizationUrl, ctx).then(({ cookie, cb }) => ({ cookie, first: cb }));
    const { first } = await session;
    return first;
  }
  const { cookie } = await session;
  const res = await ctx.http(authorizationUrl, { headers: { cookie } });
  const cb = res.location && ctx.callbackParams(res.location);
  if (!cb) throw new Error(`signed-in-user adapter: expected a redirect with a code, got HTTP ${res.status} ${res.text.slice(0, 200)}`);
  return cb;
}
