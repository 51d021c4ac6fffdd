// A person's colour over days: one band per red or yellow interval or
// override (explain's intervals), each labelled with its rule, under the
// colour they make together (DESIGN §3: an override wins, then red, then
// yellow, else green).

import { h } from './dom';
import { t } from './i18n';
import type { Explanation, Interval } from './types';
import { addDays, dayStart, DAY, fmtDay, fmtTime } from './time';
import { colourName, ruleText } from './ui';

// bandColour is an interval's colour: R rules are red, Y rules yellow; an
// override's colour is known only when it is the answer's reason.
export function bandColour(iv: Interval, ex: Explanation): string {
  if (iv.rule.startsWith('R')) return 'red';
  if (iv.rule.startsWith('Y')) return 'yellow';
  const r = ex.reasons;
  if (r.length === 1 && r[0].rule === iv.rule && r[0].from === iv.from && r[0].until === iv.until) return ex.colour;
  return 'override';
}

const ms = (s: string) => Date.parse(s);
const untilMs = (iv: Interval) => (iv.until === null ? Infinity : ms(iv.until));
const contains = (iv: Interval, x: number) => ms(iv.from) <= x && x < untilMs(iv);

// colourAt is the colour the intervals make at x.
function colourAt(ex: Explanation, x: number): { colour: string; rules: string[] } {
  let best = -1;
  ex.intervals.forEach((iv, i) => {
    if (iv.rule === 'override' && contains(iv, x) && (best < 0 || ms(iv.from) >= ms(ex.intervals[best].from))) best = i;
  });
  if (best >= 0) return { colour: bandColour(ex.intervals[best], ex), rules: ['override'] };
  const active = ex.intervals.filter((iv) => iv.rule !== 'override' && contains(iv, x));
  const red = active.filter((iv) => iv.rule.startsWith('R'));
  if (red.length) return { colour: 'red', rules: [...new Set(red.map((iv) => iv.rule))] };
  if (active.length) return { colour: 'yellow', rules: [...new Set(active.map((iv) => iv.rule))] };
  return { colour: 'green', rules: [] };
}

// span is the days drawn: from the day before the first interval to the
// day after the last end (an open interval counts two weeks), with the
// asked time when it lies near.
function span(ex: Explanation): [number, number] {
  const at = ms(ex.at);
  if (ex.intervals.length === 0) return [addDays(dayStart(at), -13), addDays(dayStart(at), 1)];
  let lo = Infinity;
  let hi = -Infinity;
  for (const iv of ex.intervals) {
    lo = Math.min(lo, ms(iv.from));
    hi = Math.max(hi, iv.until === null ? ms(iv.from) + 14 * DAY : ms(iv.until));
  }
  if (at > lo - 30 * DAY && at < hi + 30 * DAY) {
    lo = Math.min(lo, at);
    hi = Math.max(hi, at);
  }
  return [addDays(dayStart(lo), -1), addDays(dayStart(hi), 2)];
}

// timeline draws ex; pick is called with the band clicked.
export function timeline(ex: Explanation, pick: (iv: Interval, i: number) => void): HTMLElement {
  const [start, end] = span(ex);
  const pct = (x: number) => `${(((Math.min(Math.max(x, start), end) - start) / (end - start)) * 100).toFixed(4)}%`;
  const days: number[] = [];
  for (let d = start; d < end && days.length < 2000; d = addDays(d, 1)) days.push(d);
  const step = Math.max(1, Math.ceil(days.length / 24));
  const at = ms(ex.at);
  const atMark = at >= start && at < end ? h('div', { class: 'tl-at', style: `left:${pct(at)}`, title: `${t('timeline.at')} ${fmtTime(at)}` }) : null;
  const grid = () => days.map((d, i) => h('div', { class: i % step === 0 ? 'tl-grid major' : 'tl-grid', style: `left:${pct(d)}` }));

  const axis = h('div', { class: 'tl-row tl-axis' },
    h('div', { class: 'tl-label' }, t('timeline.days')),
    h('div', { class: 'tl-track' }, ...days.filter((_, i) => i % step === 0).map((d) => h('span', { class: 'tl-tick', style: `left:${pct(d)}` }, fmtDay(d))), atMark?.cloneNode(true) ?? null));

  // The colour lane: the segments between every start and end.
  const cuts = new Set<number>([start, end]);
  for (const iv of ex.intervals) {
    for (const x of [ms(iv.from), untilMs(iv)]) if (x > start && x < end) cuts.add(x);
  }
  const sorted = [...cuts].sort((a, b) => a - b);
  const segments: { from: number; to: number; colour: string; rules: string[] }[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const c = colourAt(ex, (sorted[i] + sorted[i + 1]) / 2);
    const prev = segments[segments.length - 1];
    if (prev && prev.colour === c.colour && prev.rules.join() === c.rules.join()) prev.to = sorted[i + 1];
    else segments.push({ from: sorted[i], to: sorted[i + 1], ...c });
  }
  const lane = h('div', { class: 'tl-row tl-colour' },
    h('div', { class: 'tl-label' }, t('timeline.colour')),
    h('div', { class: 'tl-track' }, ...grid(),
      ...segments.map((sg) => h('div', {
        class: `tl-segment c-${sg.colour}`, 'data-testid': 'colour-segment', 'data-colour': sg.colour, 'data-rules': sg.rules.join(' '),
        style: `left:${pct(sg.from)};width:calc(${pct(sg.to)} - ${pct(sg.from)})`,
        title: `${colourName(sg.colour)} ${fmtTime(sg.from)} – ${sg.to >= end ? '…' : fmtTime(sg.to)}${sg.rules.length ? ' (' + sg.rules.join(', ') + ')' : ''}`,
      }, sg.rules.join(' '))),
      atMark));

  const order = ex.intervals.map((iv, i) => ({ iv, i })).sort((a, b) => ms(a.iv.from) - ms(b.iv.from) || a.i - b.i);
  const rows = order.map(({ iv, i }) => {
    const colour = bandColour(iv, ex);
    const open = iv.until === null;
    const until = open ? end : untilMs(iv);
    const title = `${iv.rule}: ${ruleText(iv.rule)}\n${fmtTime(iv.from)} – ${open ? t('timeline.open') : fmtTime(iv.until)}\n${t('timeline.policy', { v: iv.policy })}`;
    const band = h('button', {
      type: 'button', class: `band c-${colour}${open ? ' open' : ''}`, 'data-testid': 'band', 'data-index': i,
      'data-rule': iv.rule, 'data-colour': colour, 'data-from': iv.from, 'data-until': iv.until ?? '',
      style: `left:${pct(ms(iv.from))};width:max(4px, calc(${pct(until)} - ${pct(ms(iv.from))}))`, title,
      onclick: () => {
        for (const b of Array.from(wrap.querySelectorAll('.band.selected'))) b.classList.remove('selected');
        band.classList.add('selected');
        pick(iv, i);
      },
    }, h('span', { class: 'band-label' }, iv.rule));
    return h('div', { class: 'tl-row' },
      h('div', { class: 'tl-label', title: ruleText(iv.rule) },
        h('strong', null, iv.rule), ' ', h('span', { class: 'muted' }, `${fmtTime(iv.from).slice(5)} → ${open ? t('timeline.open') : fmtTime(iv.until).slice(5)}`)),
      h('div', { class: 'tl-track' }, ...grid(), band, atMark?.cloneNode(true) ?? null));
  });

  const wrap = h('div', { class: 'timeline', 'data-testid': 'timeline', 'data-bands': ex.intervals.length },
    axis, lane, ...rows,
    ex.intervals.length === 0 ? h('p', { class: 'muted' }, t('timeline.none')) : null,
    atMark === null ? h('p', { class: 'muted' }, t('timeline.atOutside', { at: fmtTime(at) })) : null);
  return wrap;
}
