// The auditor's page: the last replay of every recorded decision and the
// last check of the hash chain (kept in this browser with when they ran),
// the refusals of valid recognised codes per checkpoint, and who looked
// at whose data.

import { get } from '../api';
import { h, replace } from '../dom';
import { t } from '../i18n';
import { needReason } from '../reason';
import { fmtTime } from '../time';
import type { Access, CheckpointRefusals, ReplayReport, VerifyReport } from '../types';
import { errorBox, loading, type PageContext, personLink, section, table, uuidPattern, word } from '../ui';

interface Kept<T> {
  ran: string;
  result: T;
}

function kept<T>(k: string): Kept<T> | null {
  try {
    const v = localStorage.getItem(k);
    return v ? (JSON.parse(v) as Kept<T>) : null;
  } catch {
    return null;
  }
}

export function auditPage(ctx: PageContext): void {
  const { main } = ctx;
  const replayBox = h('div');
  const verifyBox = h('div');
  const checkpointsBox = h('div', null, loading());
  const accessBox = h('div');

  const runner = <T>(storeKey: string, path: string, box: HTMLElement, view: (r: T) => HTMLElement) => {
    const show = () => {
      const k = kept<T>(storeKey);
      replace(box, k ? h('div', null, h('p', { class: 'muted' }, t('audit.ran', { at: fmtTime(k.ran) })), view(k.result)) : h('p', { class: 'muted' }, t('audit.never')));
    };
    show();
    return async (e: Event) => {
      const button = e.target as HTMLButtonElement;
      button.disabled = true;
      replace(box, loading());
      try {
        const r = await get<T>(path, {}, true);
        localStorage.setItem(storeKey, JSON.stringify({ ran: new Date().toISOString(), result: r }));
        if (ctx.alive()) show();
      } catch (err) {
        if (ctx.alive()) replace(box, errorBox(err));
      } finally {
        button.disabled = false;
      }
    };
  };
  const runReplay = runner<ReplayReport>('riskledger.console.replay', '/v1/audit/replay', replayBox, replayView);
  const runVerify = runner<VerifyReport>('riskledger.console.verify', '/v1/audit/verify', verifyBox, verifyView);

  const personIn = h('input', { type: 'text', size: 38, placeholder: t('audit.personFilter'), 'data-testid': 'access-person' });
  const actorIn = h('input', { type: 'text', size: 20, placeholder: t('audit.actorFilter'), 'data-testid': 'access-actor' });
  const accessForm = h('form', {
    class: 'controls', onsubmit: async (e: Event) => {
      e.preventDefault();
      const person = personIn.value.trim();
      if (person && !uuidPattern.test(person)) {
        replace(accessBox, errorBox(new Error(t('person.badId', { id: person }))));
        return;
      }
      const reason = await needReason('access', t('reason.access'));
      if (!reason || !ctx.alive()) return;
      replace(accessBox, loading());
      try {
        const log = await get<Access[]>('/v1/audit/access', { reason, person, actor: actorIn.value.trim() }, true);
        if (ctx.alive()) replace(accessBox, accessView(log));
      } catch (err) {
        if (ctx.alive()) replace(accessBox, errorBox(err));
      }
    },
  }, personIn, ' ', actorIn, ' ', h('button', { type: 'submit', 'data-testid': 'access-load' }, t('audit.loadAccess')));

  replace(main,
    h('h1', null, t('audit.title')),
    h('div', { class: 'columns' },
      section(t('audit.replay'), 'audit-replay', h('p', { class: 'muted' }, t('audit.replayHelp')),
        h('button', { type: 'button', 'data-testid': 'audit-replay-run', onclick: runReplay }, t('audit.run')), replayBox),
      section(t('audit.verify'), 'audit-verify', h('p', { class: 'muted' }, t('audit.verifyHelp')),
        h('button', { type: 'button', 'data-testid': 'audit-verify-run', onclick: runVerify }, t('audit.run')), verifyBox)),
    section(t('audit.checkpoints'), 'audit-checkpoints', h('p', { class: 'muted' }, t('audit.checkpointsHelp')), checkpointsBox),
    section(t('audit.access'), 'audit-access', h('p', { class: 'muted' }, t('audit.accessHelp')), accessForm, accessBox));

  get<CheckpointRefusals[]>('/v1/audit/checkpoints').then(
    (rs) => ctx.alive() && replace(checkpointsBox, rs.length === 0
      ? h('p', { class: 'ok', 'data-testid': 'checkpoints-none' }, t('audit.checkpointsNone'))
      : table('checkpoint-refusals', [t('audit.checkpoint'), t('audit.denials'), t('audit.issuers'), t('audit.first'), t('audit.last')],
        rs.map((r) => [r.name || r.checkpoint_id, String(r.denials), Object.entries(r.issuers).map(([k, n]) => `${k}: ${n}`).join(', '), fmtTime(r.first), fmtTime(r.last)]))),
    (e) => ctx.alive() && replace(checkpointsBox, errorBox(e)));
}

function replayView(r: ReplayReport): HTMLElement {
  const ok = r.mismatches.length === 0;
  return h('div', { 'data-testid': 'replay-result', 'data-ok': String(ok) },
    h('p', { class: ok ? 'ok big' : 'error-inline big' }, ok ? t('audit.replayOk') : t('audit.replayBad', { n: r.mismatches.length })),
    h('p', null, t('audit.replayCounts', { decisions: r.decisions, admissions: r.admissions, position: r.position })),
    ok ? null : table('replay-mismatches', [t('event.position'), t('audit.kind'), t('audit.person'), t('audit.problem'), t('audit.recorded'), t('audit.derived')],
      r.mismatches.map((m) => [String(m.position), m.kind, m.person_id ? personLink(m.person_id) : '', m.problem, m.recorded, m.derived])));
}

function verifyView(r: VerifyReport): HTMLElement {
  return h('div', { 'data-testid': 'verify-result', 'data-ok': String(r.ok) },
    h('p', { class: r.ok ? 'ok big' : 'error-inline big' }, r.ok ? t('audit.verifyOk', { n: r.checked }) : t('audit.verifyBad', { p: r.first_bad ?? 0 })),
    r.reason ? h('p', null, r.reason) : null,
    h('p', null, t('audit.head', { p: r.head.position, at: fmtTime(r.head.recorded_at) })),
    h('p', { class: 'mono small' }, r.head.hash));
}

function accessView(log: Access[]): HTMLElement {
  if (log.length === 0) return h('p', { class: 'muted' }, t('audit.accessNone'));
  const newest = [...log].reverse();
  return table('access-log', [t('audit.when'), t('audit.actor'), t('audit.role'), t('audit.query'), t('audit.person'), t('audit.reason')],
    newest.map((a) => [fmtTime(a.recorded_at), h('span', { class: 'mono' }, a.actor), word('role', a.role), word('query', a.query), a.person_id ? personLink(a.person_id) : '', a.reason]));
}
