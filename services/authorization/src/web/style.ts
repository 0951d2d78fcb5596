/** The only stylesheet; served from /assets/style.css so the pages' CSP can forbid inline styles. */
export const STYLESHEET = `
:root { color-scheme: light dark; --accent: #3657d6; --muted: #6b7280; --border: #d1d5db; --danger: #b42318; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; display: grid; place-items: start center; min-height: 100vh; background: Canvas; color: CanvasText; }
main { width: min(30rem, 100% - 2rem); margin: 4rem 0; padding: 2rem; border: 1px solid var(--border); border-radius: 12px; }
h1 { font-size: 1.35rem; margin: 0 0 1rem; }
p.muted, .muted { color: var(--muted); font-size: .92rem; }
label { display: block; font-weight: 600; margin: 1rem 0 .3rem; }
input[type=text], input[type=password] { width: 100%; padding: .6rem .7rem; font: inherit; border: 1px solid var(--border); border-radius: 8px; background: Field; color: FieldText; }
button { font: inherit; padding: .6rem 1.2rem; border-radius: 8px; border: 1px solid var(--accent); background: var(--accent); color: white; cursor: pointer; }
button.secondary { background: transparent; color: CanvasText; border-color: var(--border); }
button.danger { background: transparent; color: var(--danger); border-color: var(--danger); }
.actions { display: flex; gap: .75rem; margin-top: 1.5rem; align-items: center; }
.actions form { margin: 0; }
.error { border: 1px solid var(--danger); color: var(--danger); border-radius: 8px; padding: .6rem .8rem; margin: 1rem 0; }
.notice { border: 1px solid var(--border); border-radius: 8px; padding: .6rem .8rem; margin: 1rem 0; font-size: .92rem; }
ul.scopes { list-style: none; padding: 0; margin: .5rem 0 0; }
ul.scopes li { padding: .45rem 0; border-bottom: 1px solid var(--border); }
ul.scopes label { display: inline; font-weight: 400; margin: 0; }
ul.scopes code, .apps code { font-size: .85rem; }
ul.apps { list-style: none; padding: 0; margin: 0; }
ul.apps > li { padding: .8rem 0; border-bottom: 1px solid var(--border); }
ul.connections { list-style: none; padding: 0 0 0 .9rem; margin: .4rem 0 0; border-left: 2px solid var(--border); }
ul.connections li + li { margin-top: .8rem; }
ul.connections .actions { margin-top: .5rem; }
code { overflow-wrap: anywhere; }
`;
