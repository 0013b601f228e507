// The page's behaviour: the deployment overview, the selected actor (card, live diagram, time travel), the
// decisions timeline, the paged conversation list, the event log, all fed by /inspect/events.
// Browser code, shipped inside the page as text; it uses the drawing functions of page-diagram.ts.

export const appScript = `
const base = location.pathname.replace(/\\/$/, '');
// The key arrives as ?key= (a browser opens a page without headers): fetches send it as a header, only the
// EventSource (which cannot) keeps it in its URL; the address bar forgets it.
const key = new URLSearchParams(location.search).get('key');
if (key) history.replaceState(null, '', location.pathname + location.hash);
const headers = key ? { authorization: 'Bearer ' + key } : {};
const query = key ? '?key=' + encodeURIComponent(key) : '';
const get = async (path) => (await fetch(base + path, { headers })).json();
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const c of children) e.append(c);
  return e;
};
const clock = (at) => new Date(at).toLocaleTimeString([], { hour12: false });
const short = (path) => path.split('.').pop();

let diagrams = {};
let providers = [];
let decisions = [];
let rollouts = [];
let skewMs = 0;
let selected = null; // { machine, actor, id }
let pinned = null;
const historyKept = 40;
const historyShown = 14;
const histories = new Map();
const liveStates = new Map();
const log = [];
const conv = { offset: 0, limit: 8, q: '', total: 0 };

function healthOfState(state) {
  if (state.startsWith('recovering.coolingDown') || state.startsWith('recovering.awaitingPeer')) return 'coolingDown';
  if (state.startsWith('recovering')) return 'probing';
  return state;
}

function renderOverview() {
  const groups = new Map();
  for (const p of providers) for (const model of p.logicalModels.length ? p.logicalModels : ['unrouted']) {
    if (!groups.has(model)) groups.set(model, []);
    groups.get(model).push(p);
  }
  $('overview').replaceChildren(...[...groups].map(([model, list]) => el('div', { class: 'group', 'data-model': model },
    el('h3', {}, model + ' ', el('small', {}, list.length + (list.length === 1 ? ' deployment' : ' deployments'))),
    el('div', { class: 'tiles' }, ...list.map((p) => {
      const tile = el('button', { class: 'tile', 'data-deployment': p.id, 'data-health': p.health,
        'aria-pressed': selected?.actor === p.id, title: p.id + ': ' + p.state },
        el('b', {}, p.id), el('span', {}, p.health + ' · ' + p.metrics.inFlight + ' in flight'));
      tile.addEventListener('click', () => select('provider', p.id, p.id));
      return tile;
    })))));
}

function liveStateOf() {
  if (!selected) return '';
  return liveStates.get(selected.actor) ?? '';
}

function stat(label, value) {
  return el('span', {}, label + ' ', el('b', {}, value));
}

function renderCard() {
  if (!selected) return;
  $('actor-name').textContent = selected.machine === 'provider' ? selected.id : selected.machine + ' ' + selected.id;
  // An experiment has no statechart: its weights are fixed by the config, its figures are all that moves.
  const state = selected.machine === 'experiment' ? '' : liveStateOf();
  $('actor-state').textContent = state;
  const badge = $('badge');
  // Only rollouts and experiments have tables of figures.
  if (selected.machine === 'provider' || selected.machine === 'conversation') $('figures').replaceChildren();
  if (selected.machine === 'provider') {
    const p = providers.find((x) => x.id === selected.id);
    if (!p) return;
    badge.textContent = p.health;
    badge.dataset.health = p.health;
    const m = p.metrics;
    const settled = m.successes + m.failures;
    // A deadline only while cooling down; the state may be newer than the last stats (transitions arrive first).
    const left = p.nextProbeAt === null ? null : (p.nextProbeAt - Date.now() + skewMs) / 1000;
    const next = !state.startsWith('recovering.coolingDown') || left === null ? '–' : left > 0 ? left.toFixed(1) + ' s' : 'due';
    $('stats').replaceChildren(stat('in flight', m.inFlight), stat('error rate', settled ? Math.round((100 * m.failures) / settled) + ' %' : '–'),
      stat('p95', m.latencyP95Ms === null ? '–' : Math.round(m.latencyP95Ms) + ' ms'), stat('requests', m.requests),
      stat('next probe', next), stat('attempt', p.attempt));
  } else if (selected.machine === 'rollout') {
    renderRolloutCard(state);
  } else if (selected.machine === 'experiment') {
    renderExperimentCard();
  } else {
    badge.textContent = short(state || '–');
    badge.removeAttribute('data-health');
    const c = conv.items?.find((x) => x.id === selected.id);
    $('stats').replaceChildren(...(c ? [stat('messages', c.messages), stat('tokens', c.tokens), stat('queued', c.queued)] : []));
  }
}

function svgOfSelection() {
  return $('diagram').querySelector('svg');
}

function renderHighlight() {
  const svg = svgOfSelection();
  if (!svg || !selected) return;
  highlightPath(svg, selected.machine, liveStateOf(), 'active');
  highlightPath(svg, selected.machine, pinned ? pinned.state : '', 'past');
  const taken = pinned ? arrowsOf(svg, selected.machine, pinned) : [];
  for (const t of svg.querySelectorAll('[data-transition]')) t.classList.toggle('taken', taken.includes(t));
  $('pinned').replaceChildren(...(pinned ? ['Showing ' + pinned.state + ' at ' + clock(pinned.at) + ' (dashed), after ' + pinned.event +
    '; the live state is in blue. ', Object.assign(el('button', {}, 'back to live'), { onclick: () => pin(null) })] : []));
}

function pin(record) {
  pinned = record;
  renderHistory();
  renderHighlight();
}

function renderHistory() {
  const records = selected ? (histories.get(selected.actor) ?? []).slice(-historyShown).reverse() : [];
  $('history').replaceChildren(...(records.length ? records.map((r) => {
    const b = el('button', { 'data-at': r.at, 'aria-pressed': r === pinned, title: (r.from ?? '∅') + ' → ' + r.state },
      clock(r.at) + ' ' + r.event + ' → ' + short(r.state));
    b.addEventListener('click', () => pin(r === pinned ? null : r));
    return b;
  }) : [el('span', { class: 'stats' }, selected?.machine === 'experiment'
    ? 'An experiment has no states to change: its variants and weights come from the config; its figures follow the requests once a second.'
    : 'Transitions of this actor appear here as they happen; click one to see the state then.')]));
}

function select(machine, id, actor) {
  selected = { machine, id, actor };
  pinned = null;
  history.replaceState(null, '', '#' + encodeURIComponent(actor));
  drawnSplit = '';
  $('diagram').replaceChildren(...(diagrams[machine] ? [drawDiagram(diagrams[machine])] : []));
  $('figures').replaceChildren();
  for (const t of document.querySelectorAll('[aria-pressed]')) {
    const pressed = t.dataset.deployment === actor || t.dataset.conversation === id || 'rollout:' + t.dataset.rollout === actor || 'experiment:' + t.dataset.experiment === actor;
    t.setAttribute('aria-pressed', String(pressed));
  }
  renderCard();
  renderHistory();
  renderHighlight();
}

function renderDecisions(decisions) {
  const recent = decisions.slice(-48);
  $('timeline').replaceChildren(...recent.map((d) => el('i', {
    class: d.outcome !== 'ok' ? 'failed' : d.route.attempts.length > 1 ? 'retried' : 'ok',
    title: clock(d.at) + ' ' + d.model + ': ' + d.outcome + ' · ' + d.route.attempts.map((a) => a.deployment + ' ' + a.outcome + (a.hedge ? ' (hedge)' : '')).join(', '),
  })));
  const last = recent[recent.length - 1];
  $('last-decision').textContent = last ? 'last: ' + clock(last.at) + ' ' + last.model + ' → ' + (last.route.deployments.join(' + ') || '–') + ' (' + last.outcome + ')' : 'no requests yet';
}

async function refreshConversations() {
  const page = await get('/conversations?offset=' + conv.offset + '&limit=' + conv.limit + '&q=' + encodeURIComponent(conv.q));
  Object.assign(conv, { total: page.total, items: page.items });
  for (const c of page.items) liveStates.set('conversation:' + c.id, c.state);
  $('conv-count').textContent = page.active + ' active' + (conv.q ? ' · ' + page.total + ' matching' : '');
  $('conv-page').textContent = page.total ? conv.offset + 1 + '–' + (conv.offset + page.items.length) + ' of ' + page.total : 'none';
  $('conversations').replaceChildren(...page.items.map((c) => {
    const b = el('button', { 'data-conversation': c.id, 'aria-pressed': selected?.id === c.id, title: c.id }, c.id);
    b.addEventListener('click', () => select('conversation', c.id, 'conversation:' + c.id));
    return el('li', {}, b, el('span', {}, short(c.state) + ' · ' + c.messages + ' msgs · ' + c.tokens + ' tok'));
  }));
  if (selected?.machine === 'conversation') { renderCard(); renderHighlight(); }
}

function renderLog() {
  const filter = $('filter').value.toLowerCase();
  const machine = $('machine').value;
  const shown = log.filter((r) => (!machine || r.machine === machine) && (!filter || JSON.stringify(r).toLowerCase().includes(filter)));
  $('log').replaceChildren(...shown.slice(-200).reverse().map((r) =>
    el('div', {}, clock(r.at) + '  ' + r.actor + '  ' + (r.from ?? '∅') + ' → ' + r.state + '  (' + r.event + ')')));
}

function onState(state) {
  skewMs = Date.now() - state.now;
  providers = state.providers;
  decisions = state.decisions;
  for (const p of providers) liveStates.set(p.id, p.state);
  if (state.rollouts) rollouts = state.rollouts;
  if (state.experiments) experiments = state.experiments;
  for (const r of rollouts) liveStates.set('rollout:' + r.id, r.state);
  renderSplitLists();
  if (!selected) {
    const wanted = decodeURIComponent(location.hash.slice(1));
    if (wanted.startsWith('conversation:')) select('conversation', wanted.slice('conversation:'.length), wanted);
    else if (wanted.startsWith('rollout:')) select('rollout', wanted.slice('rollout:'.length), wanted);
    else if (wanted.startsWith('experiment:')) select('experiment', wanted.slice('experiment:'.length), wanted);
    else if (providers.length) select('provider', (providers.find((p) => p.id === wanted) ?? providers[0]).id, (providers.find((p) => p.id === wanted) ?? providers[0]).id);
  }
  renderOverview();
  renderDecisions(state.decisions);
  renderCard();
  renderHighlight();
}

function onTransition(record) {
  log.push(record);
  if (log.length > 1000) log.splice(0, log.length - 1000);
  const list = histories.get(record.actor) ?? [];
  list.push(record);
  if (list.length > historyKept) list.shift();
  histories.set(record.actor, list);
  liveStates.set(record.actor, record.state);
  const p = providers.find((x) => x.id === record.actor);
  if (p) Object.assign(p, { state: record.state, health: healthOfState(record.state) });
  if (selected?.actor === record.actor) {
    const svg = svgOfSelection();
    if (svg) flashArrows(svg, selected.machine, record);
    renderCard();
    renderHighlight();
    renderHistory();
  }
  if (p) renderOverview();
  if ($('log').offsetParent) renderLog();
}

async function main() {
  diagrams = await get('/machines');
  const demo = await get('/demo');
  $('demo').replaceChildren(...demo.targets.flatMap((name) => [
    el('button', { 'data-break': name }, 'Break ' + name), el('button', { 'data-heal': name }, 'Heal ' + name)]));
  $('demo').addEventListener('click', (e) => {
    const b = e.target.closest('button');
    if (!b) return;
    const name = b.dataset.break ?? b.dataset.heal;
    fetch(base + '/demo/' + encodeURIComponent(name) + '/' + (b.dataset.break ? 'break' : 'heal'),
      { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' });
  });
  for (const id of ['filter', 'machine']) $(id).addEventListener('input', renderLog);
  document.querySelector('details').addEventListener('toggle', renderLog);
  let typing;
  $('conv-search').addEventListener('input', (e) => {
    clearTimeout(typing);
    typing = setTimeout(() => { Object.assign(conv, { q: e.target.value, offset: 0 }); refreshConversations(); }, 200);
  });
  $('conv-prev').addEventListener('click', () => { conv.offset = Math.max(0, conv.offset - conv.limit); refreshConversations(); });
  $('conv-next').addEventListener('click', () => { if (conv.offset + conv.limit < conv.total) { conv.offset += conv.limit; refreshConversations(); } });
  setInterval(renderCard, 250);
  const events = new EventSource(base + '/events' + query);
  events.addEventListener('open', () => ($('status').textContent = 'live'));
  events.addEventListener('error', () => ($('status').textContent = 'reconnecting…'));
  events.addEventListener('hello', (e) => { onState(JSON.parse(e.data)); refreshConversations(); });
  // Once a second, only what changed: providers by id, the decisions made since, conversations that changed.
  events.addEventListener('delta', (e) => {
    const delta = JSON.parse(e.data);
    const changed = new Map(delta.providers.map((p) => [p.id, p]));
    const known = new Set(providers.map((p) => p.id));
    decisions = [...decisions, ...delta.decisions].slice(-48);
    const gone = new Set(delta.providersRemoved ?? []);
    onState({ now: delta.now, providers: [...providers.filter((p) => !gone.has(p.id)).map((p) => changed.get(p.id) ?? p), ...delta.providers.filter((p) => !known.has(p.id))], decisions, rollouts: delta.rollouts, experiments: delta.experiments });
    if (delta.conversations.changed.length || delta.conversations.removed.length) refreshConversations();
  });
  events.addEventListener('transition', (e) => onTransition(JSON.parse(e.data)));
}
main();
`;
