// A person: the record, the colour at a time with its reasons, the colour
// over days as bands, the codes issued and the scans.

import { currentSession, get } from '../api';
import { h, replace } from '../dom';
import { t } from '../i18n';
import { needReason } from '../reason';
import { fmtTime, parseInput } from '../time';
import { bandColour, timeline } from '../timeline';
import type { CodeIssued, Explanation, Interval, PersonRecord, Scan } from '../types';
import { colourChip, errorBox, loading, mayDo, type PageContext, personLink, ruleText, section, table, uuidPattern, word } from '../ui';

export async function personPage(ctx: PageContext): Promise<void> {
  const id = (ctx.path[1] ?? '').toLowerCase();
  const { main } = ctx;
  if (!uuidPattern.test(id)) {
    replace(main, h('h1', null, t('person.title')), errorBox(new Error(t('person.badId', { id }))));
    return;
  }
  const reason = await needReason(`person:${id}`, t('reason.person', { id }));
  if (!ctx.alive()) return;
  if (!reason) {
    replace(main, h('h1', null, t('person.title')),
      h('p', { 'data-testid': 'reason-needed' }, t('reason.needed')),
      h('button', { type: 'button', onclick: () => personPage(ctx) }, t('reason.give')));
    return;
  }
  const atParam = ctx.params.get('at') ?? '';
  const at = parseInput(atParam) ?? undefined;
  const role = currentSession()?.role ?? '';

  const atInput = h('input', { type: 'text', 'data-testid': 'at-input', value: at ? fmtTime(at) : '', placeholder: t('person.atPlaceholder'), size: 22 });
  const atError = h('span', { class: 'error-inline', hidden: true }, t('common.badTime'));
  const controls = h('form', {
    class: 'controls', onsubmit: (e: Event) => {
      e.preventDefault();
      const v = parseInput(atInput.value);
      if (v === undefined) {
        atError.hidden = false;
        return;
      }
      location.hash = `#/person/${id}${v ? `?at=${encodeURIComponent(v)}` : ''}`;
    },
  },
    h('label', null, t('person.at'), ' ', atInput), ' ',
    h('button', { type: 'submit', 'data-testid': 'at-apply' }, t('person.show')), ' ', atError,
    mayDo(role, 'chain') ? h('a', { class: 'button', href: `#/chain/${id}`, 'data-testid': 'open-chain' }, t('person.openChain')) : null);

  const recordBox = h('div', null, loading());
  const colourBox = h('div', null, loading());
  const timelineBox = h('div', null, loading());
  const eventsBox = h('div', { 'data-testid': 'band-events-box' }, h('p', { class: 'muted' }, t('timeline.pick')));
  const codesBox = h('div', null, loading());
  const scansBox = h('div', null, loading());
  replace(main,
    h('h1', null, t('person.title'), ' ', h('span', { class: 'mono', 'data-testid': 'person-id' }, id)),
    controls,
    h('div', { class: 'columns' },
      section(t('person.record'), 'person-record', recordBox),
      section(t('person.colour'), 'person-colour-card', colourBox)),
    section(t('timeline.title'), 'person-timeline', h('p', { class: 'muted' }, t('timeline.help')), timelineBox, eventsBox),
    section(t('person.codes'), 'person-codes', codesBox),
    section(t('person.scans'), 'person-scans', scansBox));

  const q = { reason };
  const record = get<PersonRecord>(`/v1/persons/${id}`, q);
  const explain = get<Explanation>(`/v1/persons/${id}/explain`, { ...q, at });
  const scans = get<Scan[]>(`/v1/persons/${id}/scans`, q);
  const codes = get<CodeIssued[]>(`/v1/persons/${id}/codes`, q);

  record.then((r) => ctx.alive() && replace(recordBox, recordView(r)), (e) => ctx.alive() && replace(recordBox, errorBox(e)));
  explain.then((ex) => ctx.alive() && replace(colourBox, colourView(ex)), (e) => ctx.alive() && replace(colourBox, errorBox(e)));
  scans.then((s) => ctx.alive() && replace(scansBox, scansView(s)), (e) => ctx.alive() && replace(scansBox, errorBox(e)));
  codes.then((c) => ctx.alive() && replace(codesBox, codesView(c)), (e) => ctx.alive() && replace(codesBox, errorBox(e)));
  try {
    const ex = await explain;
    const byEvent = new Map<string, Scan>();
    try {
      for (const s of await scans) byEvent.set(s.event.id, s);
    } catch {
      // the bands stand without the scans
    }
    if (!ctx.alive()) return;
    replace(timelineBox, timeline(ex, (iv, i) => replace(eventsBox, eventsView(ex, iv, i, byEvent))));
  } catch (e) {
    if (ctx.alive()) replace(timelineBox, errorBox(e));
  }
}

function field(label: string, ...value: (Node | string)[]): HTMLElement[] {
  return [h('dt', null, label), h('dd', null, ...value)];
}

function recordView(r: PersonRecord): HTMLElement {
  return h('dl', { class: 'fields' },
    r.erased ? field(t('person.erased'), h('strong', { class: 'error-inline' }, t('person.erasedText'))) : null,
    field(t('person.name'), r.name ?? '—'),
    field(t('person.document'), r.document ? `${word('document', r.document.type)} ${r.document.number} (${r.document.country})` : '—'),
    field(t('person.nationality'), r.nationality || '—'),
    field(t('person.phone'), r.phone ?? '—'),
    field(t('person.registered'), `${fmtTime(r.registered)} · ${t('common.position', { p: r.position })}`),
    r.registered_by ? field(t('person.registeredBy'), personLink(r.registered_by)) : null,
    field(t('person.verified'), r.verified.length ? r.verified.map((v) => word('verify', v)).join(', ') : t('person.notVerified')),
    r.dependents.length
      ? field(t('person.dependents'), h('ul', null, ...r.dependents.map((d) => h('li', null, personLink(d.person_id), ' ', t('person.usableFrom', { d: d.usable_from }), d.ended ? ` (${t('person.ended')})` : ''))))
      : null);
}

function colourView(ex: Explanation): HTMLElement {
  return h('div', null,
    h('p', { class: 'big' },
      h('span', { 'data-testid': 'person-colour', 'data-colour': ex.colour, 'data-at': ex.at }, colourChip(ex.colour)), ' ',
      h('span', { class: 'muted' }, t('person.colourAt', { at: fmtTime(ex.at) }))),
    ex.reasons.length === 0
      ? h('p', { class: 'muted' }, t('person.noReasons'))
      : h('ul', { class: 'reasons', 'data-testid': 'reasons' }, ...ex.reasons.map((r) => h('li', { 'data-rule': r.rule },
        h('strong', null, r.rule), ' ', ruleText(r.rule), ': ', fmtTime(r.from), ' – ', r.until ? fmtTime(r.until) : t('timeline.open'),
        ' · ', t('timeline.policy', { v: r.policy })))));
}

function eventsView(ex: Explanation, iv: Interval, i: number, byEvent: Map<string, Scan>): HTMLElement {
  return h('div', { class: 'band-events', 'data-testid': 'band-events', 'data-index': i, 'data-rule': iv.rule },
    h('h3', null, t('timeline.eventsOf', { rule: iv.rule, what: ruleText(iv.rule) })),
    h('p', null, colourChip(bandColour(iv, ex)), ' ', fmtTime(iv.from), ' – ', iv.until ? fmtTime(iv.until) : t('timeline.open'), ' · ', t('timeline.policy', { v: iv.policy })),
    table('band-event-list', [t('event.id'), t('event.position'), t('event.what')], iv.events.map((e) => {
      const s = byEvent.get(e.id);
      return [
        h('span', { class: 'mono', 'data-testid': 'band-event', 'data-position': e.position }, e.id),
        String(e.position),
        s ? t('event.ownScan', { place: s.place.name || s.place.checkpoint_id, at: fmtTime(s.at) }) : t('event.other'),
      ];
    })));
}

function codesView(codes: CodeIssued[]): HTMLElement {
  if (codes.length === 0) return h('p', { class: 'muted', 'data-testid': 'codes-none' }, t('person.noCodes'));
  return table('codes', [t('code.day'), t('code.colour'), t('code.issuer'), t('code.pseudonym'), t('code.basis'), t('code.code')],
    codes.map((c) => [c.day, colourChip(c.colour), c.issuer, h('span', { class: 'mono' }, c.pseudonym), String(c.basis),
      h('span', { class: 'mono code', title: c.code }, c.code.length > 28 ? `${c.code.slice(0, 28)}…` : c.code)]));
}

function scansView(scans: Scan[]): HTMLElement {
  if (scans.length === 0) return h('p', { class: 'muted' }, t('person.noScans'));
  return table('scans', [t('scan.at'), t('scan.place'), t('scan.kind'), t('scan.district'), t('scan.method'), t('scan.decision'), t('scan.reason'), t('scan.colour'), t('scan.temperature')],
    scans.map((s) => [
      h('span', { class: s.retracted ? 'retracted' : '', title: s.retracted ? t('scan.retracted') : `${t('event.position')} ${s.event.position}` }, fmtTime(s.at)),
      s.place.name || s.place.checkpoint_id, word('kind', s.place.kind), s.place.district, word('method', s.method),
      h('span', { class: s.admitted ? 'ok' : 'error-inline' }, s.admitted ? t('scan.admitted') : t('scan.denied')),
      s.reason, s.colour ? colourChip(s.colour) : '', s.temperature_celsius !== undefined ? `${s.temperature_celsius.toFixed(1)} °C` : '']));
}
