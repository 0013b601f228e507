// The page's experiments and rollouts: their lists, a rollout's card (step, both arms in the step, each guard's
// limit beside what the arms measure) and an experiment's card (its split drawn as SVG: the logical model, an
// arrow per variant with its share, each variant with its figures). Browser code, shipped inside the page as
// text; every name and model is set as text or an attribute, never parsed as HTML.

export const splitsScript = `
let experiments = [];
const ms = (v) => (v === null || v === undefined ? '–' : Math.round(v) + ' ms');
const errorRate = (a) => (a.requests ? ((100 * a.errors) / a.requests).toFixed(1) + ' %' : '–');
const points = (v) => (v === null ? '–' : (v >= 0 ? '+' : '') + (100 * v).toFixed(1) + ' pts');
const times = (v) => (v === null ? '–' : '×' + v.toFixed(2));
const phaseOf = (state) => short(state.replace(/\\.(holding|judging)$/, '') || '–');

/** A table of arms or variants: one row each, figures in columns. */
function figuresTable(caption, rows) {
  const head = ['', 'model', 'share', 'requests', 'errors', 'error rate', 'p50', 'p95', 'ttft p95', 'tokens in / out'];
  return el('table', { class: 'figures', 'data-table': caption },
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', { 'data-arm': r.name },
      el('th', {}, r.name), el('td', {}, r.model), el('td', {}, r.share),
      el('td', { 'data-figure': 'requests' }, r.figures.requests), el('td', {}, r.figures.errors),
      el('td', { 'data-figure': 'error-rate' }, errorRate(r.figures)), el('td', {}, ms(r.figures.latencyP50Ms)),
      el('td', {}, ms(r.figures.latencyP95Ms)), el('td', {}, ms(r.figures.ttftP95Ms)),
      el('td', {}, r.figures.tokensIn + ' / ' + r.figures.tokensOut)))));
}

const guardRows = {
  minRequests: ['canary requests in this step', (v) => (v === null ? '–' : String(v)), (l) => '≥ ' + l + ' before judging'],
  errorRateIncrease: ['error rate, canary − baseline', points, (l) => '≤ ' + points(l)],
  latencyP95Ratio: ['latency p95, canary ÷ baseline', times, (l) => (l === null ? 'off' : '≤ ×' + l)],
  ttftP95Ratio: ['first token p95, canary ÷ baseline', times, (l) => (l === null ? 'off' : '≤ ×' + l)],
};

/** Each guard: what it compares, what the arms measure now, its limit, and whether it holds. */
function guardTable(readings) {
  return el('table', { class: 'figures guards', 'data-table': 'guards' },
    el('caption', {}, 'Guards (the arms in this step)'),
    el('thead', {}, el('tr', {}, ...['guard', 'measured', 'limit', ''].map((h) => el('th', {}, h)))),
    el('tbody', {}, ...readings.map((g) => {
      const [label, measured, limit] = guardRows[g.name] ?? [g.name, String, String];
      return el('tr', { 'data-guard': g.name, 'data-status': g.status },
        el('th', {}, label), el('td', { 'data-measured': '' }, measured(g.measured)), el('td', {}, limit(g.limit)),
        el('td', { class: 'verdict' }, g.status));
    })));
}

function renderRolloutCard(state) {
  const r = rollouts.find((x) => x.id === selected.id);
  $('badge').textContent = phaseOf(state);
  $('badge').removeAttribute('data-health');
  if (!r) return $('figures').replaceChildren();
  $('stats').replaceChildren(stat('model', r.model), stat('canary', r.percent + ' %'),
    stat('step', r.step + ' of ' + r.steps.length + ' (' + r.steps.join(' → ') + ' %)'), stat('hold', r.holdMs / 1000 + ' s'),
    ...(r.driving ? [] : [stat('driven by', 'another instance')]), ...(r.reason ? [stat('reason', r.reason)] : []));
  $('figures').replaceChildren(
    figuresTable('Arms in this step', [
      { name: 'baseline', model: r.from, share: 100 - r.percent + ' %', figures: r.window.baseline },
      { name: 'canary', model: r.to, share: r.percent + ' %', figures: r.window.canary },
    ]),
    guardTable(r.readings));
}

const shareOf = (e, v) => {
  const total = e.variants.reduce((n, x) => n + x.weight, 0);
  return total ? ((100 * v.weight) / total).toFixed(1).replace(/\\.0$/, '') + ' %' : '–';
};

/** The split as a picture: the logical model on the left, an arrow with its share to each variant on the right. */
function drawSplit(e) {
  const box = { w: 230, h: 58 };
  const gap = 12;
  const height = Math.max(box.h, e.variants.length * (box.h + gap) - gap);
  const width = 2 * box.w + 140;
  const svg = svgEl('svg', { class: 'diagram split', 'data-experiment': e.id, role: 'img', 'aria-label': 'experiment ' + e.id,
    viewBox: '-6 -6 ' + (width + 12) + ' ' + (height + 12) });
  svg.append(svgEl('defs', {}, svgEl('marker', { id: 'split-arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: 'userSpaceOnUse', orient: 'auto' },
    svgEl('path', { d: 'M0 0 L10 5 L0 10 z' }))));
  const my = height / 2;
  svg.append(svgEl('g', { class: 'state active', 'data-split-model': '' },
    svgEl('rect', { x: 0, y: my - box.h / 2, width: box.w, height: box.h, rx: 8 }),
    svgText(box.w / 2, my - 4, e.model, 'state-name'), svgText(box.w / 2, my + 14, 'sticky: ' + e.sticky, 'any-name')));
  e.variants.forEach((v, i) => {
    const y = i * (box.h + gap);
    const x = width - box.w;
    const g = svgEl('g', { class: 'transition', 'data-variant': v.name });
    g.append(svgEl('path', { d: pathOf([{ x: box.w, y: my }, { x: box.w + 40, y: my }, { x: box.w + 40, y: y + box.h / 2 }, { x, y: y + box.h / 2 }]), 'marker-end': 'url(#split-arrow)' }));
    g.append(svgText(box.w + 48, y + box.h / 2 - 5, shareOf(e, v), 'edge-label'));
    svg.append(g);
    svg.append(svgEl('g', { class: 'state', 'data-variant-box': v.name },
      svgEl('rect', { x, y, width: box.w, height: box.h, rx: 8 }),
      svgText(x + box.w / 2, y + 17, v.name + ' → ' + v.model, 'state-name'),
      svgText(x + box.w / 2, y + 34, v.requests + ' req · ' + errorRate(v) + ' err', 'any-name'),
      svgText(x + box.w / 2, y + 50, 'p95 ' + ms(v.latencyP95Ms) + ' · ' + v.tokensIn + ' tok in', 'any-name')));
  });
  return svg;
}

let drawnSplit = '';
function renderExperimentCard() {
  const e = experiments.find((x) => x.id === selected.id);
  $('badge').textContent = e ? 'running' : 'unknown';
  $('badge').removeAttribute('data-health');
  if (!e) return $('figures').replaceChildren();
  const requests = e.variants.reduce((n, v) => n + v.requests, 0);
  $('stats').replaceChildren(stat('model', e.model), stat('sticky', e.sticky), stat('variants', e.variants.length), stat('requests', requests));
  // Redrawn only when its figures moved (the card itself is refreshed four times a second).
  const key = JSON.stringify(e);
  if (key !== drawnSplit) {
    drawnSplit = key;
    $('diagram').replaceChildren(drawSplit(e));
    $('figures').replaceChildren(figuresTable('Variants since start', e.variants.map((v) => ({ name: v.name, model: v.model, share: shareOf(e, v), figures: v }))));
  }
}

function renderSplitLists() {
  $('rollouts-panel').hidden = rollouts.length === 0;
  $('rollouts').replaceChildren(...rollouts.map((r) => {
    const b = el('button', { 'data-rollout': r.id, 'aria-pressed': selected?.actor === 'rollout:' + r.id }, r.id);
    b.addEventListener('click', () => select('rollout', r.id, 'rollout:' + r.id));
    return el('li', {}, b, ' ' + phaseOf(r.state) + ' · ' + r.percent + ' %');
  }));
  $('experiments-panel').hidden = experiments.length === 0;
  $('experiments').replaceChildren(...experiments.map((e) => {
    const b = el('button', { 'data-experiment': e.id, 'aria-pressed': selected?.actor === 'experiment:' + e.id }, e.id);
    b.addEventListener('click', () => select('experiment', e.id, 'experiment:' + e.id));
    return el('li', {}, b, ' ' + e.model + ' · ' + e.variants.map((v) => v.name + ' ' + v.requests).join(' / '));
  }));
}
`;
