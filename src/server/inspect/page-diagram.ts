// The page's SVG statechart: draws a laid-out diagram (src/inspection/layout.ts) as nested regions and
// labelled arrows, highlights a state path, and flashes the arrows of a transition just taken.
// Browser code, shipped inside the page as text (no bundler, no CDN).

export const diagramScript = `
const SVG_NS = 'http://www.w3.org/2000/svg';
const svgEl = (tag, attrs = {}, ...children) => {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  for (const c of children) e.append(c);
  return e;
};
const svgText = (x, y, text, cls) => {
  const t = svgEl('text', { x, y, class: cls });
  t.textContent = text;
  return t;
};

function pathOf(points) {
  return points.map((p, i) => (i === 0 ? 'M' : 'L') + p.x.toFixed(1) + ' ' + p.y.toFixed(1)).join(' ');
}

function drawNode(n) {
  if (n.kind === 'initial') {
    return svgEl('circle', { class: 'initial', 'data-initial': n.id, cx: n.x + n.width / 2, cy: n.y + n.height / 2, r: n.width / 2 - 1 });
  }
  const g = svgEl('g', n.kind === 'any' ? { class: 'any' } : { class: 'state ' + n.kind, 'data-state': n.id });
  g.append(svgEl('rect', { x: n.x, y: n.y, width: n.width, height: n.height, rx: n.kind === 'compound' ? 10 : 8 }));
  if (n.kind === 'final') g.append(svgEl('rect', { class: 'inner', x: n.x + 3, y: n.y + 3, width: n.width - 6, height: n.height - 6, rx: 6 }));
  if (n.kind === 'compound') g.append(svgText(n.x + 10, n.y + 19, n.label, 'region-name'));
  else g.append(svgText(n.x + n.width / 2, n.y + n.height / 2 + 4, n.label, n.kind === 'any' ? 'any-name' : 'state-name'));
  return g;
}

function drawEdge(e) {
  if (e.kind === 'initial') return svgEl('path', { class: 'initial-arrow', d: pathOf(e.points), 'marker-end': 'url(#arrow)' });
  const g = svgEl('g', { class: 'transition', 'data-transition': e.id, 'data-event': e.event, 'data-source': e.source, 'data-target': e.target });
  g.append(svgEl('path', { d: pathOf(e.points), 'marker-end': 'url(#arrow)' }));
  if (e.labelBox) {
    const b = e.labelBox;
    g.append(svgEl('rect', { class: 'label-bg', x: b.x, y: b.y, width: b.width, height: b.height, rx: 3 }));
    const text = svgEl('text', { class: 'edge-label', x: b.x + 4, y: b.y });
    e.labelLines.forEach((line, i) => {
      const span = svgEl('tspan', { x: b.x + 4, dy: i === 0 ? 11 : 14 });
      span.textContent = line;
      text.append(span);
    });
    g.append(text);
  }
  const title = svgEl('title');
  title.textContent = e.source.split('.').slice(1).join('.') + ' → ' + e.target.split('.').slice(1).join('.') + ' on ' + e.label;
  g.append(title);
  return g;
}

/** An <svg> of one diagram; regions first so that arrows run over them. */
function drawDiagram(d) {
  const pad = 6;
  const svg = svgEl('svg', {
    class: 'diagram', 'data-machine': d.machine, role: 'img', 'aria-label': d.machine + ' statechart',
    viewBox: -pad + ' ' + -pad + ' ' + (d.width + 2 * pad) + ' ' + (d.height + 2 * pad),
  });
  svg.append(svgEl('defs', {}, svgEl('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' },
    svgEl('path', { d: 'M0 0 L10 5 L0 10 z' }))));
  for (const n of d.nodes) svg.append(drawNode(n));
  for (const e of d.edges) svg.append(drawEdge(e));
  return svg;
}

const within = (id, path) => path === id || path.startsWith(id + '.');

/** Marks the states on a path (\`recovering.probing.waiting\`) and their ancestors with a class. */
function highlightPath(svg, machine, path, cls) {
  const full = machine + '.' + path;
  for (const s of svg.querySelectorAll('[data-state]')) s.classList.toggle(cls, path !== '' && within(s.dataset.state, full));
}

/** The arrows that a record (from, event, state) took: declared on a state it left, leading into where it is. */
function arrowsOf(svg, machine, record) {
  const from = machine + '.' + (record.from ?? '');
  const to = machine + '.' + record.state;
  return [...svg.querySelectorAll('[data-transition]')].filter((t) =>
    t.dataset.event === record.event && within(t.dataset.target, to) &&
    (t.dataset.source === machine + '.*' || within(t.dataset.source, from)));
}

function flashArrows(svg, machine, record) {
  // The arrow taken last stays marked (bold label) until another one is taken.
  for (const t of svg.querySelectorAll('.flash')) t.classList.remove('flash');
  for (const t of arrowsOf(svg, machine, record)) {
    t.classList.remove('flash');
    // Reading layout restarts the CSS animation when the same arrow fires twice in a row.
    void t.getBoundingClientRect();
    t.classList.add('flash');
  }
}
`;
