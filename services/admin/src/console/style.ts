/** The console's only stylesheet, served from /admin/assets/style.css so the pages' CSP can forbid inline styles. */
export const CONSOLE_STYLESHEET = `
:root { color-scheme: light dark; --accent: #3657d6; --muted: #6b7280; --border: #d1d5db; --danger: #b42318; --ok: #067647; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; background: Canvas; color: CanvasText; }
main { max-width: 96rem; margin: 0 auto; padding: 1.5rem; }
nav { display: flex; gap: 1.2rem; align-items: center; border-bottom: 1px solid var(--border); padding-bottom: .8rem; margin-bottom: 1.2rem; flex-wrap: wrap; }
nav a { color: var(--accent); text-decoration: none; font-weight: 600; }
nav form { margin-left: auto; }
h1 { font-size: 1.3rem; margin: 0 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .6rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--border); vertical-align: top; }
th { font-weight: 600; }
td form { margin: 0; }
code { font-size: .85rem; overflow-wrap: anywhere; }
.muted { color: var(--muted); }
.state-live, .state-delivered, .state-success { color: var(--ok); font-weight: 600; }
.state-revoked, .state-dead_lettered, .state-failure, .state-denied, .state-deleted { color: var(--danger); font-weight: 600; }
label { font-weight: 600; margin-right: .3rem; }
input[type=text], input[type=password], input[type=url], select { padding: .4rem .5rem; font: inherit; border: 1px solid var(--border); border-radius: 6px; background: Field; color: FieldText; }
form.filters { display: flex; gap: .6rem 1.2rem; flex-wrap: wrap; align-items: center; margin-bottom: 1rem; }
form.filters .field { display: inline-flex; align-items: center; gap: .4rem; white-space: nowrap; }
form.filters .field label { margin: 0; }
input[type=checkbox] { margin: 0; }
table.activity td { font-size: .85rem; }
table.activity td:last-child { min-width: 26rem; }
dl.details { margin: 0; display: grid; grid-template-columns: max-content 1fr; gap: 0 .6rem; }
dl.details div { display: contents; }
dl.details dt { color: var(--muted); font-weight: 400; }
dl.details dd { margin: 0; overflow-wrap: anywhere; }
button { font: inherit; padding: .35rem .9rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: white; cursor: pointer; }
button.danger { background: transparent; color: var(--danger); border-color: var(--danger); }
button.secondary { background: transparent; color: CanvasText; border-color: var(--border); }
.error { border: 1px solid var(--danger); color: var(--danger); border-radius: 6px; padding: .5rem .8rem; }
.notice { border: 1px solid var(--border); border-radius: 6px; padding: .5rem .8rem; }
.signin { max-width: 26rem; margin: 4rem auto; }
.signin input { width: 100%; margin: .3rem 0 1rem; }
`;
