// The inspector page: one self-contained HTML document (no CDN, works offline). An overview of every
// deployment as small tiles grouped by logical model; the selected actor's statechart drawn as SVG with its
// live state highlighted; its card, its recent transitions (click one to see the state then), the
// supervisor's decisions as a timeline, and the conversation actors with search and paging.

import { appScript } from './page-app.ts';
import { diagramScript } from './page-diagram.ts';
import { splitsScript } from './page-splits.ts';

const css = `
:root { font-family: system-ui, sans-serif; color: #1d2433; background: #f4f5f8; font-size: 13px; }
* { box-sizing: border-box; }
body { margin: 0; padding: 10px 16px; }
header { display: flex; align-items: baseline; gap: 14px; margin-bottom: 8px; }
h1 { font-size: 18px; margin: 0; } h2 { font-size: 12px; margin: 0 0 6px; text-transform: uppercase; letter-spacing: .05em; color: #5a6478; }
#status { font-size: 12px; color: #5a6478; } #demo { margin-left: auto; } #demo button { font-size: 12px; margin-left: 4px; }
.panel { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 8px 10px; }
#overview { display: flex; flex-wrap: wrap; gap: 6px 18px; margin-bottom: 10px; }
.group h3 { font-size: 12px; margin: 0 0 4px; color: #5a6478; font-weight: 600; } .group h3 small { font-weight: 400; }
.tiles { display: flex; flex-wrap: wrap; gap: 4px; }
.tile { all: unset; cursor: pointer; width: 136px; padding: 3px 7px; border-radius: 6px; border: 1px solid #d5dae3; background: #fff;
  border-left: 5px solid #9aa3b5; font-size: 11px; line-height: 1.3; overflow: hidden; }
.tile b { display: block; font-weight: 600; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.tile span { color: #5a6478; white-space: nowrap; }
.tile[aria-pressed=true] { outline: 2px solid #2463eb; }
[data-health=healthy] { --health: #1f9d55; --health-bg: #d3f2dc; --health-fg: #14632f; }
[data-health=degraded] { --health: #d69e00; --health-bg: #fdf0c9; --health-fg: #7a5800; }
[data-health=coolingDown], [data-health=probing] { --health: #d64534; --health-bg: #fde0dc; --health-fg: #8a1f11; }
[data-health=disabled], [data-health=draining] { --health: #7b8494; --health-bg: #e4e8ef; --health-fg: #3b4250; }
.tile[data-health] { border-left-color: var(--health); }
.badge { font-size: 12px; padding: 1px 9px; border-radius: 10px; background: var(--health-bg, #e4e8ef); color: var(--health-fg, #1d2433); }
main { display: flex; flex-direction: column; gap: 10px; }
#card h3 { font-size: 15px; margin: 0; display: flex; gap: 10px; align-items: center; }
.stats { display: flex; gap: 16px; margin: 6px 0; font-size: 12px; color: #5a6478; } .stats b { color: #1d2433; font-weight: 600; }
#history { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 6px; min-height: 22px; }
#history button { font-size: 11px; border: 1px solid #d5dae3; background: #f8f9fb; border-radius: 5px; padding: 2px 6px; cursor: pointer; }
#history button[aria-pressed=true] { border-color: #8b5cf6; background: #f1ebff; }
#pinned { font-size: 12px; color: #6d28d9; min-height: 16px; }
svg.diagram { width: 100%; height: auto; max-height: 470px; display: block; margin-top: 4px; }
.state rect { fill: #fbfcfd; stroke: #aab3c3; stroke-width: 1.2; }
.state.compound > rect { fill: #f3f5f9; stroke-dasharray: none; }
.state.final rect.inner { fill: none; }
.state-name { text-anchor: middle; font-size: 13px; fill: #1d2433; } .region-name { font-size: 12px; font-weight: 600; fill: #5a6478; }
.any rect { fill: #fff; stroke: #9aa3b5; stroke-dasharray: 4 3; } .any-name { text-anchor: middle; font-size: 11px; fill: #5a6478; font-style: italic; }
.state.active > rect { fill: #e3edff; stroke: #2463eb; stroke-width: 2.4; } .state.active > text { fill: #1846b0; font-weight: 700; }
.state.compound.active > rect { fill: #f0f5ff; }
.state.past > rect { stroke: #8b5cf6; stroke-width: 2.4; stroke-dasharray: 5 3; } .state.past > text { fill: #6d28d9; font-weight: 700; }
circle.initial { fill: #1d2433; } path.initial-arrow { fill: none; stroke: #1d2433; stroke-width: 1.2; }
marker path { fill: #6b7486; }
.transition path { fill: none; stroke: #8c95a6; stroke-width: 1.2; }
.label-bg { fill: #fff; fill-opacity: .85; } .edge-label { font-size: 10.5px; fill: #4a5366; font-family: ui-monospace, monospace; }
.transition:hover path { stroke: #2463eb; stroke-width: 2; } .transition:hover .edge-label { fill: #1846b0; }
.transition.taken path { stroke: #8b5cf6; stroke-width: 2.4; } .transition.taken .edge-label { fill: #6d28d9; font-weight: 700; }
@keyframes flash { 0% { stroke: #f59e0b; stroke-width: 4; } 100% { stroke: #8c95a6; stroke-width: 1.2; } }
@keyframes flash-label { 0% { fill: #b45309; } 100% { fill: #4a5366; } }
.transition.flash path { animation: flash 1.6s ease-out; } .transition.flash .edge-label { animation: flash-label 1.6s ease-out; font-weight: 700; }
aside { display: grid; grid-template-columns: 1fr 1fr 1fr; gap: 10px; align-items: start; }
#timeline { display: flex; gap: 2px; align-items: flex-end; height: 26px; }
#timeline i { width: 6px; height: 14px; border-radius: 2px; background: #1f9d55; } #timeline i.retried { background: #d69e00; height: 20px; }
#timeline i.failed { background: #d64534; height: 26px; }
#last-decision { font-size: 11px; color: #5a6478; margin-top: 4px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
#conv-search { width: 100%; font-size: 12px; padding: 3px 6px; }
#conversations { list-style: none; margin: 6px 0; padding: 0; } #conversations li { display: flex; gap: 6px; font-size: 11px; padding: 2px 0; }
#conversations button { all: unset; cursor: pointer; font-family: ui-monospace, monospace; color: #1846b0; overflow: hidden; text-overflow: ellipsis; max-width: 170px; }
#conversations button[aria-pressed=true] { font-weight: 700; }
#rollouts, #experiments { list-style: none; margin: 6px 0; padding: 0; font-size: 11px; }
#rollouts button, #experiments button { all: unset; cursor: pointer; font-family: ui-monospace, monospace; color: #1846b0; }
#rollouts button[aria-pressed=true], #experiments button[aria-pressed=true] { font-weight: 700; }
#figures { display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: flex-start; }
table.figures { border-collapse: collapse; font-size: 11.5px; margin-top: 6px; }
table.figures caption { text-align: left; font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: #5a6478; padding-bottom: 3px; }
table.figures th, table.figures td { padding: 2px 8px; border-bottom: 1px solid #e6e9ef; text-align: right; white-space: nowrap; }
table.figures th:first-child, table.figures td:nth-child(2) { text-align: left; } table.figures thead th { color: #5a6478; font-weight: 600; }
table.guards td.verdict { font-weight: 700; } [data-status=ok] .verdict { color: #14632f; } [data-status=breached] .verdict { color: #8a1f11; }
[data-status=waiting] .verdict, [data-status=off] .verdict { color: #7b8494; }
svg.split { max-height: 420px; max-width: 760px; }
.pager { display: flex; gap: 6px; align-items: center; font-size: 11px; color: #5a6478; }
details summary { cursor: pointer; font-size: 12px; color: #5a6478; }
#log { font: 11px ui-monospace, monospace; max-height: 180px; overflow: auto; }
`;

/** The inspector page. */
export function inspectorPage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Switchyard inspector</title><style>${css}</style></head>
<body>
<header><h1>Switchyard inspector</h1><span id="status">connecting…</span><span id="demo"></span></header>
<section id="overview" aria-label="deployments"></section>
<main>
  <section class="panel" id="card">
    <h3><span id="actor-name">–</span><span class="badge" id="badge"></span><span id="actor-state"></span></h3>
    <div class="stats" id="stats"></div>
    <div id="diagram"></div>
    <div id="figures"></div>
    <div id="pinned"></div>
    <div id="history" aria-label="recent transitions"></div>
  </section>
  <aside>
    <section class="panel"><h2>Supervisor decisions</h2><div id="timeline"></div><div id="last-decision"></div></section>
    <section class="panel"><h2>Conversation actors <span id="conv-count"></span></h2>
      <input id="conv-search" type="search" placeholder="search conversation id">
      <ul id="conversations"></ul>
      <div class="pager"><button id="conv-prev">‹</button><span id="conv-page"></span><button id="conv-next">›</button></div>
    </section>
    <section class="panel" id="rollouts-panel" hidden><h2>Rollout actors</h2><ul id="rollouts"></ul></section>
    <section class="panel" id="experiments-panel" hidden><h2>Experiments</h2><ul id="experiments"></ul></section>
    <section class="panel"><details><summary>Event log</summary>
      <input id="filter" placeholder="filter"> <select id="machine"><option value="">all machines</option><option>provider</option><option>supervisor</option><option>conversation</option><option>rollout</option></select>
      <div id="log"></div></details></section>
  </aside>
</main>
<script>${diagramScript}${splitsScript}${appScript}</script>
</body></html>`;
}
