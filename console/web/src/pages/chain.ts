// The time-respecting contact graph around a person (chain --json): nodes
// coloured by their projected colour, edges labelled with place and time,
// drawn by cytoscape in rings by depth.

import cytoscape from 'cytoscape';
import { get, getLines } from '../api';
import { download, h, replace } from '../dom';
import { t } from '../i18n';
import { needReason } from '../reason';
import { fmtTime, parseInput } from '../time';
import type { Chain, ChainEdge, ColourRow } from '../types';
import { colourChip, colourName, errorBox, loading, type PageContext, personLink, section, uuidPattern, word } from '../ui';

const palette: Record<string, string> = { green: '#2e9d4f', yellow: '#e3b505', red: '#d93a3a', unknown: '#9aa3ad' };

export async function chainPage(ctx: PageContext): Promise<void> {
  const id = (ctx.path[1] ?? '').toLowerCase();
  const { main, params } = ctx;
  if (!uuidPattern.test(id)) {
    replace(main, h('h1', null, t('chain.title')), errorBox(new Error(t('person.badId', { id }))));
    return;
  }
  const reason = await needReason(`person:${id}`, t('reason.chain', { id }));
  if (!ctx.alive()) return;
  if (!reason) {
    replace(main, h('h1', null, t('chain.title')), h('p', { 'data-testid': 'reason-needed' }, t('reason.needed')),
      h('button', { type: 'button', onclick: () => chainPage(ctx) }, t('reason.give')));
    return;
  }
  const depth = Math.min(10, Math.max(1, Number(params.get('depth') ?? '1') || 1));
  const upstream = params.get('upstream') === 'true';
  const from = parseInput(params.get('from') ?? '') ?? undefined;
  const to = parseInput(params.get('to') ?? '') ?? undefined;

  const depthSel = h('select', { 'data-testid': 'chain-depth' },
    ...[1, 2, 3, 4, 5, 6, 8, 10].map((d) => h('option', { value: d, selected: d === depth }, String(d))));
  const layout = layouts.includes(params.get('layout') ?? '') ? params.get('layout')! : 'auto';
  const layoutSel = h('select', { 'data-testid': 'chain-layout' },
    ...layouts.map((l) => h('option', { value: l, selected: l === layout }, t(`chain.layout.${l}` as 'chain.layout.tree'))));
  const dirSel = h('select', { 'data-testid': 'chain-direction' },
    h('option', { value: 'down', selected: !upstream }, t('chain.downstream')),
    h('option', { value: 'up', selected: upstream }, t('chain.upstream')));
  const fromIn = h('input', { type: 'text', value: from ? fmtTime(from) : '', placeholder: t('common.timePlaceholder'), size: 17, 'data-testid': 'chain-from' });
  const toIn = h('input', { type: 'text', value: to ? fmtTime(to) : '', placeholder: t('common.timePlaceholder'), size: 17, 'data-testid': 'chain-to' });
  const formError = h('span', { class: 'error-inline', hidden: true }, t('common.badTime'));
  const form = h('form', {
    class: 'controls', onsubmit: (e: Event) => {
      e.preventDefault();
      const f = parseInput(fromIn.value);
      const u = parseInput(toIn.value);
      if (f === undefined || u === undefined) {
        formError.hidden = false;
        return;
      }
      const q = new URLSearchParams({ depth: depthSel.value });
      if (dirSel.value === 'up') q.set('upstream', 'true');
      if (layoutSel.value !== 'auto') q.set('layout', layoutSel.value);
      if (f) q.set('from', f);
      if (u) q.set('to', u);
      location.hash = `#/chain/${id}?${q}`;
    },
  },
    h('label', null, t('chain.depth'), ' ', depthSel), ' ',
    h('label', null, t('chain.direction'), ' ', dirSel), ' ',
    h('label', null, t('common.from'), ' ', fromIn), ' ',
    h('label', null, t('common.to'), ' ', toIn), ' ',
    h('label', null, t('chain.layout'), ' ', layoutSel), ' ',
    h('button', { type: 'submit', 'data-testid': 'chain-draw' }, t('chain.draw')), ' ', formError);

  const graph = h('div', { class: 'graph', 'data-testid': 'chain-graph', 'data-state': 'loading' });
  const summary = h('div', { 'data-testid': 'chain-summary' }, loading());
  const detail = h('div', { class: 'detail-panel', 'data-testid': 'chain-detail' }, h('p', { class: 'muted' }, t('chain.pick')));
  const exports = h('div', { class: 'controls' });
  replace(main,
    h('h1', null, t('chain.title'), ' ', personLink(id, id)),
    h('p', { class: 'muted' }, upstream ? t('chain.helpUp') : t('chain.helpDown')),
    form,
    section(t('chain.graph'), 'chain-card', summary, h('div', { class: 'graph-wrap' }, graph, detail), exports, legend()));

  const q = { reason, depth, upstream: upstream ? 'true' : undefined, from, to };
  let chain: Chain;
  try {
    chain = await get<Chain>(`/v1/persons/${id}/chain`, q);
  } catch (e) {
    if (ctx.alive()) {
      graph.dataset.state = 'error';
      replace(summary, errorBox(e));
    }
    return;
  }
  // The nodes' colours: the projected colours, read once for the chain.
  const colours = new Map<string, string>();
  let coloursError: unknown = null;
  try {
    for (const r of await getLines<ColourRow>('/v1/colours', { reason })) colours.set(r.person_id, r.colour);
  } catch (e) {
    coloursError = e;
  }
  if (!ctx.alive()) return;
  const colourOf = (p: string) => colours.get(p) ?? 'unknown';
  const counts: Record<string, number> = {};
  for (const n of chain.nodes) counts[colourOf(n.person)] = (counts[colourOf(n.person)] ?? 0) + 1;
  replace(summary,
    h('p', null, t('chain.summary', { nodes: chain.nodes.length, edges: chain.edges.length, depth: chain.depth }), ' ',
      ...Object.entries(counts).map(([c, n]) => h('span', { class: 'count' }, c === 'unknown' ? t('chain.unknownColour') : colourChip(c), ` ${n}`))),
    coloursError ? errorBox(coloursError) : null);

  const cy = draw(graph, chain, colourOf, detail, ctx, layout);
  replace(exports,
    h('span', { class: 'muted' }, t('chain.export')), ' ',
    h('button', { type: 'button', class: 'secondary', 'data-testid': 'chain-export-json', onclick: () => download(`chain-${id}.json`, 'application/json', JSON.stringify(chain, null, 2)) }, 'JSON'), ' ',
    h('button', { type: 'button', class: 'secondary', 'data-testid': 'chain-export-csv', onclick: () => download(`chain-${id}.csv`, 'text/csv', csv(chain)) }, 'CSV'), ' ',
    h('button', {
      type: 'button', class: 'secondary', 'data-testid': 'chain-export-png',
      onclick: () => download(`chain-${id}.png`, 'image/png', cy.png({ output: 'blob', full: true, scale: 2, bg: '#ffffff' })),
    }, 'PNG'));
}

function edgeLabel(e: ChainEdge): string {
  return `${e.place?.name || word('source', e.source)}\n${fmtTime(e.at)}`;
}

const layouts = ['auto', 'force', 'rings', 'tree'];

const rings = {
  name: 'concentric', concentric: (n: cytoscape.NodeSingular) => 100 - n.data('depth'), levelWidth: () => 1, minNodeSpacing: 6, animate: false,
} as cytoscape.LayoutOptions;

// treeLimit and forceLimit are the most persons an automatic layout draws
// as a tree from the person (with room for every edge's label) and by
// forces (cose takes seconds at that size and grows with its square);
// larger chains are drawn in rings by depth.
const treeLimit = 60;
const forceLimit = 600;

// layoutOf is cytoscape's layout for a choice of the page. A tree runs
// as time does: downstream to the right of the person, upstream to the
// left, siblings stacked with room for their labels.
function layoutOf(name: string, chain: Chain): cytoscape.LayoutOptions {
  if (name === 'auto') name = chain.nodes.length <= treeLimit ? 'tree' : chain.nodes.length <= forceLimit ? 'force' : 'rings';
  switch (name) {
    case 'rings':
      return rings;
    case 'force':
      return { name: 'cose', animate: false, randomize: false, numIter: 1000, nodeRepulsion: () => 4000, idealEdgeLength: () => 40 } as cytoscape.LayoutOptions;
    default: {
      const dir = chain.upstream ? -1 : 1;
      return {
        name: 'breadthfirst', roots: [chain.person], directed: false, spacingFactor: 1.2, animate: false,
        transform: (_n: cytoscape.NodeSingular, p: cytoscape.Position) => ({ x: dir * p.y * 3.6, y: p.x * 0.8 }),
      } as cytoscape.LayoutOptions;
    }
  }
}

// graphStyle colours persons by their colour (data colour) and labels
// exposures with place and time near the exposed person's end, where
// edges part; with many edges, labels show only when zoomed in.
function graphStyle(many: boolean): cytoscape.StylesheetJson {
  return [
    {
      selector: 'node', style: {
        'background-color': 'data(colour)', label: 'data(label)', 'font-size': 9, color: '#222', 'text-valign': 'bottom', 'text-margin-y': 2,
        width: 14, height: 14, 'min-zoomed-font-size': 7, 'border-width': 1, 'border-color': '#555',
      },
    },
    { selector: 'node[root = 1]', style: { width: 30, height: 30, 'border-width': 3, 'border-color': '#111', 'font-size': 11, 'font-weight': 'bold' } },
    {
      selector: 'edge', style: {
        width: 1, 'line-color': '#8a96a3', 'target-arrow-color': '#8a96a3', 'target-arrow-shape': 'triangle', 'arrow-scale': 0.8, 'curve-style': 'bezier',
        'target-label': 'data(label)', 'target-text-offset': 56, 'text-wrap': 'wrap', 'font-size': 8, color: '#333',
        'text-background-color': '#fff', 'text-background-opacity': 0.85, 'text-background-padding': '1px', 'min-zoomed-font-size': many ? 14 : 6,
      },
    },
    { selector: 'edge:selected, edge.hover', style: { 'min-zoomed-font-size': 0, width: 2, 'line-color': '#1f5fbf', 'target-arrow-color': '#1f5fbf', 'z-index': 10 } },
    { selector: 'node:selected', style: { 'border-color': '#1f5fbf', 'border-width': 4 } },
  ];
}

function draw(container: HTMLElement, chain: Chain, colourOf: (p: string) => string, detail: HTMLElement, ctx: PageContext, layout: string): cytoscape.Core {
  const cy = cytoscape({
    container,
    elements: [
      ...chain.nodes.map((n) => ({
        group: 'nodes' as const,
        data: { id: n.person, label: n.person.slice(0, 8), depth: n.depth, colour: palette[colourOf(n.person)], root: n.depth === 0 ? 1 : 0 },
      })),
      ...chain.edges.map((e, i) => ({ group: 'edges' as const, data: { id: `e${i}`, source: e.from, target: e.to, label: edgeLabel(e), index: i } })),
    ],
    style: graphStyle(chain.edges.length > 60),
    // Forces start from the rings, not from random places, so that a
    // chain is drawn the same each time.
    layout: rings,
    wheelSensitivity: 0.3,
    minZoom: 0.05,
    maxZoom: 4,
  });
  const chosen = layoutOf(layout, chain);
  if (chosen !== rings) cy.layout(chosen).run();
  // A few persons fit the frame at a zoom that makes them huge.
  if (cy.zoom() > 1.2) {
    cy.zoom(1.2);
    cy.center();
  }
  container.dataset.nodes = String(cy.nodes().length);
  container.dataset.edges = String(cy.edges().length);
  container.dataset.state = 'ready';
  cy.on('mouseover', 'edge', (e) => e.target.addClass('hover'));
  cy.on('mouseout', 'edge', (e) => e.target.removeClass('hover'));
  cy.on('tap', 'node', (e) => {
    if (!ctx.alive()) return;
    const p = e.target.id() as string;
    const n = chain.nodes.find((x) => x.person === p)!;
    const c = colourOf(p);
    replace(detail, h('div', { 'data-testid': 'chain-node' },
      h('h3', null, t('chain.person')),
      h('p', { class: 'mono' }, p),
      h('p', null, c === 'unknown' ? t('chain.unknownColour') : colourChip(c)),
      h('p', null, t('chain.nodeDepth', { depth: n.depth })),
      n.at ? h('p', null, t(chain.upstream ? 'chain.nodeAtUp' : 'chain.nodeAtDown', { at: fmtTime(n.at) })) : null,
      h('p', null, h('a', { href: `#/person/${p}` }, t('chain.openPerson')), ' · ', h('a', { href: `#/chain/${p}` }, t('chain.openChain')))));
  });
  cy.on('tap', 'edge', (e) => {
    if (!ctx.alive()) return;
    const edge = chain.edges[e.target.data('index') as number];
    replace(detail, h('div', { 'data-testid': 'chain-edge' },
      h('h3', null, t('chain.exposure')),
      h('p', null, personLink(edge.from), ' → ', personLink(edge.to)),
      h('p', null, fmtTime(edge.at)),
      h('p', null, word('source', edge.source)),
      edge.place ? h('p', null, `${edge.place.name} · ${word('kind', edge.place.kind)} · ${edge.place.district}`) : null,
      h('p', null, t('chain.nodeDepth', { depth: edge.depth }))));
  });
  return cy;
}

function legend(): HTMLElement {
  return h('p', { class: 'legend muted' },
    ...(['green', 'yellow', 'red'] as const).map((c) => h('span', null, h('span', { class: 'dot', style: `background:${palette[c]}` }), ' ', colourName(c), '  ')),
    h('span', null, h('span', { class: 'dot', style: `background:${palette.unknown}` }), ' ', t('chain.unknownColour'), '  '),
    t('chain.legend'));
}

function csv(chain: Chain): string {
  const q = (v: string | number | undefined | null) => {
    const s = v === undefined || v === null ? '' : String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const rows = [['from', 'to', 'depth', 'at', 'source', 'checkpoint_id', 'place', 'kind', 'district']];
  for (const e of chain.edges) rows.push([e.from, e.to, String(e.depth), e.at, e.source, e.place?.checkpoint_id ?? '', e.place?.name ?? '', e.place?.kind ?? '', e.place?.district ?? '']);
  return rows.map((r) => r.map(q).join(',')).join('\n') + '\n';
}
