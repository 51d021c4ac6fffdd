// Places where several index cases were in their infectious windows
// (clusters --json), per place: how many clusters, cases and exposed
// persons, and when the cases came, day by day.

import { get } from '../api';
import { h, replace, s } from '../dom';
import { t } from '../i18n';
import { needReason } from '../reason';
import { addDays, dayStart, fmtDay, fmtTime, parseInput } from '../time';
import type { Cluster, Place } from '../types';
import { errorBox, loading, type PageContext, personLink, section, table, word } from '../ui';

interface PlaceSummary {
  place: Place;
  clusters: Cluster[];
  cases: Set<string>;
  exposed: Set<string>;
  foreign: number;
  visits: number[];
}

export async function clustersPage(ctx: PageContext): Promise<void> {
  const { main, params } = ctx;
  const from = parseInput(params.get('from') ?? '') ?? undefined;
  const to = parseInput(params.get('to') ?? '') ?? undefined;
  const fromIn = h('input', { type: 'text', value: from ? fmtTime(from) : '', placeholder: t('common.timePlaceholder'), size: 17, 'data-testid': 'clusters-from' });
  const toIn = h('input', { type: 'text', value: to ? fmtTime(to) : '', placeholder: t('common.timePlaceholder'), size: 17, 'data-testid': 'clusters-to' });
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
      const q = new URLSearchParams();
      if (f) q.set('from', f);
      if (u) q.set('to', u);
      location.hash = `#/clusters?${q}`;
    },
  },
    h('label', null, t('common.from'), ' ', fromIn), ' ', h('label', null, t('common.to'), ' ', toIn), ' ',
    h('button', { type: 'submit', 'data-testid': 'clusters-show' }, t('clusters.show')), ' ', formError);
  const body = h('div', null, loading());
  replace(main, h('h1', null, t('clusters.title')), h('p', { class: 'muted' }, t('clusters.help')), form, body);

  const reason = await needReason('clusters', t('reason.clusters'));
  if (!ctx.alive()) return;
  if (!reason) {
    replace(body, h('p', { 'data-testid': 'reason-needed' }, t('reason.needed')), h('button', { type: 'button', onclick: () => clustersPage(ctx) }, t('reason.give')));
    return;
  }
  let clusters: Cluster[];
  try {
    clusters = await get<Cluster[]>('/v1/clusters', { reason, from, to });
  } catch (e) {
    if (ctx.alive()) replace(body, errorBox(e));
    return;
  }
  if (!ctx.alive()) return;
  const byPlace = new Map<string, PlaceSummary>();
  for (const c of clusters) {
    const k = c.place?.checkpoint_id ?? '';
    let p = byPlace.get(k);
    if (!p) byPlace.set(k, (p = { place: c.place, clusters: [], cases: new Set(), exposed: new Set(), foreign: 0, visits: [] }));
    p.clusters.push(c);
    for (const cs of c.cases) {
      p.cases.add(cs.person);
      for (const v of cs.visits) p.visits.push(Date.parse(v));
    }
    for (const x of c.exposed) p.exposed.add(x);
    p.foreign += c.foreign.length;
  }
  const places = [...byPlace.values()].sort((a, b) => b.cases.size - a.cases.size || b.clusters.length - a.clusters.length || a.place.name.localeCompare(b.place.name));
  const all = places.flatMap((p) => p.visits);
  if (places.length === 0) {
    replace(body, h('p', { class: 'muted', 'data-testid': 'clusters-none' }, t('clusters.none')));
    return;
  }
  const start = dayStart(Math.min(...all));
  const days: number[] = [];
  for (let d = start; d <= Math.max(...all) && days.length < 400; d = addDays(d, 1)) days.push(d);
  const detail = h('div', { 'data-testid': 'cluster-detail' });
  const rows = places.map((p) => [
    h('a', { href: '#', 'data-testid': 'cluster-place', 'data-cases': p.cases.size, 'data-clusters': p.clusters.length,
      onclick: (e: Event) => { e.preventDefault(); replace(detail, placeDetail(p)); detail.scrollIntoView({ behavior: 'smooth' }); } },
    p.place.name || p.place.checkpoint_id),
    word('kind', p.place.kind), p.place.district, String(p.clusters.length), String(p.cases.size), String(p.exposed.size), String(p.foreign),
    histogram(days, p.visits),
  ]);
  replace(body,
    h('p', { 'data-testid': 'clusters-summary' }, t('clusters.summary', { places: places.length, clusters: clusters.length, cases: new Set(places.flatMap((p) => [...p.cases])).size })),
    section(t('clusters.allDays'), 'clusters-histogram', histogram(days, all, 720, 90)),
    section(t('clusters.places'), 'clusters-places',
      table('clusters', [t('clusters.place'), t('scan.kind'), t('scan.district'), t('clusters.clusters'), t('clusters.cases'), t('clusters.exposed'), t('clusters.foreign'), t('clusters.histogram')], rows)),
    detail);
}

// histogram draws the case visits per day as bars.
function histogram(days: number[], visits: number[], width = 260, height = 44): SVGElement {
  const counts = days.map(() => 0);
  for (const v of visits) {
    const d = dayStart(v);
    const i = days.indexOf(d);
    if (i >= 0) counts[i]++;
  }
  const max = Math.max(1, ...counts);
  const axis = 14;
  const bw = width / Math.max(1, days.length);
  const labelEvery = Math.max(1, Math.ceil(days.length / Math.max(1, Math.floor(width / 48))));
  return s('svg', { class: 'histogram', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': t('clusters.histogram'), 'data-testid': 'histogram' },
    ...counts.map((n, i) => {
      const bh = ((height - axis) * n) / max;
      return s('rect', { x: i * bw + 1, y: height - axis - bh, width: Math.max(1, bw - 2), height: bh, class: 'bar' },
        s('title', null, `${fmtDay(days[i])}: ${t('clusters.visits', { n })}`));
    }),
    ...days.map((d, i) => (i % labelEvery === 0 ? s('text', { x: i * bw + 1, y: height - 2, class: 'axis' }, fmtDay(d)) : null)));
}

function placeDetail(p: PlaceSummary): HTMLElement {
  return section(`${p.place.name} · ${word('kind', p.place.kind)} · ${p.place.district}`, 'cluster-place-detail',
    table('cluster-list', [t('common.from'), t('common.to'), t('clusters.cases'), t('clusters.exposed'), t('clusters.foreign')],
      p.clusters.map((c) => [fmtTime(c.from), fmtTime(c.to),
        h('span', null, ...c.cases.map((cs) => h('span', { class: 'case' }, personLink(cs.person), ` (${cs.visits.map((v) => fmtTime(v).slice(11)).join(', ')}) `))),
        String(c.exposed.length),
        c.foreign.map((f) => `${f.issuer}/${f.pseudonym}`).join(', ')])));
}
