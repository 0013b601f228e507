// The inspector page: one self-contained HTML document (no CDN, works offline). It draws each machine's
// statechart as nested state boxes with their transitions, highlights each provider actor's live state, and
// shows the supervisor's recent decisions, the conversation actors and a filterable event log.

const css = `
:root { font-family: system-ui, sans-serif; color: #1d2433; background: #f6f7f9; }
body { margin: 0; padding: 16px 24px; }
h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 20px 0 8px; text-transform: uppercase; letter-spacing: .04em; color: #5a6478; }
#status { font-size: 12px; color: #5a6478; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 10px 12px; min-width: 300px; }
.card h3 { font-size: 14px; margin: 0 0 6px; display: flex; gap: 8px; align-items: center; }
.badge { font-size: 12px; padding: 1px 8px; border-radius: 10px; background: #e4e8ef; }
.badge[data-health=healthy] { background: #d3f2dc; color: #14632f; } .badge[data-health=degraded] { background: #fdf0c9; color: #7a5800; }
.badge[data-health=coolingDown], .badge[data-health=probing] { background: #fde0dc; color: #8a1f11; } .badge[data-health=disabled] { background: #e4e8ef; }
.meta { font-size: 12px; color: #5a6478; margin: 4px 0 8px; }
.state { border: 1px solid #c9cfda; border-radius: 6px; padding: 4px 6px; margin: 4px 0; font-size: 12px; background: #fbfcfd; }
.state > .name { font-weight: 600; } .state.initial > .name::before { content: '● '; color: #9aa3b5; }
.state.active { border-color: #2463eb; background: #eaf1ff; } .state.active > .name { color: #1846b0; }
.edges { color: #5a6478; margin: 2px 0 0 4px; } .edges span { white-space: nowrap; margin-right: 8px; }
.children { margin-left: 10px; }
table { border-collapse: collapse; font-size: 12px; background: #fff; } td, th { border: 1px solid #dde1e8; padding: 3px 8px; text-align: left; }
#log { font: 12px ui-monospace, monospace; background: #fff; border: 1px solid #dde1e8; border-radius: 6px; max-height: 280px; overflow: auto; padding: 6px; }
button { font-size: 12px; margin-right: 6px; }
`;

const script = `
const base = location.pathname.replace(/\\/$/, '');
const query = location.search;
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c);
  return e;
};
let charts = {};
const log = [];

function box(node, isInitial) {
  const div = el('div', { class: 'state' + (isInitial ? ' initial' : ''), 'data-id': node.id }, el('div', { class: 'name' }, node.key));
  if (node.edges.length) div.append(el('div', { class: 'edges' }, ...node.edges.map((e) => el('span', {}, e.event + ' → ' + e.target.split('.').pop()))));
  if (node.children.length) div.append(el('div', { class: 'children' }, ...node.children.map((c) => box(c, c.key === node.initial))));
  return div;
}

function highlight(container, machine, path) {
  const ids = new Set();
  const parts = path.split('.');
  for (let i = 1; i <= parts.length; i++) ids.add(machine + '.' + parts.slice(0, i).join('.'));
  for (const s of container.querySelectorAll('.state')) s.classList.toggle('active', ids.has(s.dataset.id));
}

function renderProviders(providers) {
  const root = document.getElementById('providers');
  for (const p of providers) {
    let card = root.querySelector('[data-provider="' + CSS.escape(p.id) + '"]');
    if (!card) {
      card = el('div', { class: 'card', 'data-provider': p.id },
        el('h3', {}, p.id, el('span', { class: 'badge', 'data-testid': 'health-' + p.id }, '')),
        el('div', { class: 'meta' }, ''),
        ...charts.provider.children.map((c) => box(c, c.key === charts.provider.initial)));
      root.append(card);
    }
    const badge = card.querySelector('.badge');
    badge.textContent = p.health;
    badge.dataset.health = p.health;
    const m = p.metrics;
    const next = p.nextProbeAt ? ' · next probe in ' + Math.max(0, p.nextProbeAt - Date.now()) + ' ms' : '';
    card.querySelector('.meta').textContent = m.requests + ' requests · ' + m.failures + ' failures · ' + m.inFlight + ' in flight · p95 ' +
      (m.latencyP95Ms ?? '–') + ' ms · attempt ' + p.attempt + next;
    highlight(card, 'provider', p.state);
  }
}

function renderDecisions(decisions) {
  const body = document.querySelector('#decisions tbody');
  body.replaceChildren(...decisions.slice().reverse().map((d) => el('tr', {},
    el('td', {}, new Date(d.at).toLocaleTimeString()), el('td', {}, d.model), el('td', {}, d.outcome),
    el('td', {}, d.route.deployments.join(' + ') || '–'),
    el('td', {}, d.route.attempts.map((a) => a.deployment + ':' + a.outcome + (a.hedge ? ' (hedge)' : '')).join(', ')))));
}

function renderConversations(conversations) {
  document.getElementById('conversation-count').textContent = conversations.length + ' active';
  document.getElementById('conversations').replaceChildren(...conversations.map((c) =>
    el('div', { class: 'meta' }, c.id + ' · ' + c.state + ' · ' + c.messages + ' messages · ' + c.tokens + ' tokens' + (c.queued ? ' · ' + c.queued + ' queued' : ''))));
}

function renderLog() {
  const filter = document.getElementById('filter').value.toLowerCase();
  const machine = document.getElementById('machine').value;
  const shown = log.filter((r) => (!machine || r.machine === machine) && (!filter || JSON.stringify(r).toLowerCase().includes(filter)));
  document.getElementById('log').replaceChildren(...shown.slice(-200).reverse().map((r) =>
    el('div', {}, new Date(r.at).toLocaleTimeString() + '  ' + r.machine + '  ' + r.actor + '  ' + (r.from ?? '∅') + ' → ' + r.state + '  (' + r.event + ')')));
}

function render(state) {
  renderProviders(state.providers);
  renderDecisions(state.decisions);
  renderConversations(state.conversations);
}

async function main() {
  charts = await (await fetch(base + '/machines' + query)).json();
  document.getElementById('charts').replaceChildren(...['supervisor', 'conversation'].map((name) =>
    el('div', { class: 'card', 'data-machine': name }, el('h3', {}, name), ...charts[name].children.map((c) => box(c, c.key === charts[name].initial)))));
  const demo = await (await fetch(base + '/demo' + query)).json();
  document.getElementById('demo').replaceChildren(...demo.targets.flatMap((name) => [
    el('button', { 'data-break': name }, 'Break ' + name), el('button', { 'data-heal': name }, 'Heal ' + name)]));
  document.getElementById('demo').addEventListener('click', (e) => {
    const b = e.target.closest('button');
    if (!b) return;
    const name = b.dataset.break ?? b.dataset.heal;
    fetch(base + '/demo/' + encodeURIComponent(name) + '/' + (b.dataset.break ? 'break' : 'heal') + query, { method: 'POST' });
  });
  for (const id of ['filter', 'machine']) document.getElementById(id).addEventListener('input', renderLog);
  const events = new EventSource(base + '/events' + query);
  events.addEventListener('open', () => (document.getElementById('status').textContent = 'live'));
  events.addEventListener('error', () => (document.getElementById('status').textContent = 'reconnecting…'));
  // hello carries the whole state once; each delta only what changed since (providers and conversations by id).
  let current = null;
  const merge = (list, changed, removed = []) => {
    const byId = new Map(list.filter((x) => !removed.includes(x.id)).map((x) => [x.id, x]));
    for (const x of changed) byId.set(x.id, x);
    return [...byId.values()];
  };
  events.addEventListener('hello', (e) => render((current = JSON.parse(e.data))));
  events.addEventListener('delta', (e) => {
    if (!current) return;
    const d = JSON.parse(e.data);
    current = {
      providers: merge(current.providers, d.providers),
      decisions: [...current.decisions, ...d.decisions].slice(-20),
      conversations: merge(current.conversations, d.conversations.changed, d.conversations.removed),
    };
    render(current);
  });
  events.addEventListener('transition', (e) => {
    log.push(JSON.parse(e.data));
    if (log.length > 1000) log.splice(0, log.length - 1000);
    renderLog();
  });
}
main();
`;

/** The inspector page. */
export function inspectorPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchyard inspector</title><style>${css}</style></head>
<body>
<h1>Switchyard inspector</h1><div id="status">connecting…</div>
<div id="demo"></div>
<h2>Provider actors</h2><div id="providers" class="cards"></div>
<h2>Supervisor decisions</h2>
<table id="decisions"><thead><tr><th>time</th><th>model</th><th>outcome</th><th>served by</th><th>attempts</th></tr></thead><tbody></tbody></table>
<h2>Conversation actors <span id="conversation-count"></span></h2><div id="conversations"></div>
<h2>Event log</h2>
<input id="filter" placeholder="filter"> <select id="machine"><option value="">all machines</option><option>provider</option><option>supervisor</option><option>conversation</option></select>
<div id="log"></div>
<h2>Statecharts</h2><div id="charts" class="cards"></div>
<script>${script}</script>
</body></html>`;
}
