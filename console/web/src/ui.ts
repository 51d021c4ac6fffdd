// Pieces shared by the pages.

import { ApiError } from './api';
import { h, type Child } from './dom';
import { t, has, type Key } from './i18n';

// PageContext is what a page renders into.
export interface PageContext {
  main: HTMLElement;
  path: string[];
  params: URLSearchParams;
  // alive is false once the person has moved to another page.
  alive: () => boolean;
}

// errorBox says what went wrong in the console's language, with the
// API's own sentence (in English) beneath.
export function errorBox(err: unknown): HTMLElement {
  if (err instanceof ApiError) {
    const k = `error.${err.code}`;
    return h('div', { class: 'error', role: 'alert', 'data-testid': 'error', 'data-code': err.code },
      h('strong', null, has(k) ? t(k as Key) : t('error.internal')),
      err.message ? h('div', { class: 'detail' }, err.message) : null);
  }
  return h('div', { class: 'error', role: 'alert', 'data-testid': 'error' }, h('strong', null, t('error.internal')), h('div', { class: 'detail' }, String(err)));
}

export function loading(): HTMLElement {
  return h('p', { class: 'muted loading' }, t('common.loading'));
}

export function section(title: string, testid: string, ...children: Child[]): HTMLElement {
  return h('section', { class: 'card', 'data-testid': testid }, h('h2', null, title), ...children);
}

// colourName is a colour as the health codes call it.
export function colourName(c: string): string {
  return has(`colour.${c}`) ? t(`colour.${c}` as Key) : c;
}

export function colourChip(c: string): HTMLElement {
  return h('span', { class: `chip chip-${c}`, 'data-colour': c }, colourName(c));
}

// ruleText names a rule and what it stands for.
export function ruleText(rule: string): string {
  return has(`rule.${rule}`) ? t(`rule.${rule}` as Key) : rule;
}

// word translates a value of the ledger (a kind, a method, a source) when
// the dictionary knows it, and shows it as it is otherwise.
export function word(group: string, v: string | undefined | null): string {
  if (!v) return '';
  const k = `${group}.${v}`;
  return has(k) ? t(k as Key) : v;
}

export function personLink(id: string, text?: string): HTMLElement {
  return h('a', { href: `#/person/${id}`, class: 'mono', title: id }, text ?? short(id));
}

export function short(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}

// table builds a table of rows; rows beyond limit wait behind a button.
export function table(testid: string, head: string[], rows: Child[][], limit = 200): HTMLElement {
  const body = h('tbody');
  const fill = (n: number) => {
    body.replaceChildren(...rows.slice(0, n).map((r) => h('tr', null, ...r.map((c) => h('td', null, c)))));
  };
  fill(limit);
  const more = rows.length > limit
    ? h('button', { type: 'button', class: 'secondary', onclick: (e: Event) => { fill(rows.length); (e.target as HTMLElement).remove(); } },
      t('common.showAll', { n: rows.length }))
    : null;
  return h('div', { class: 'table-wrap' },
    h('table', { 'data-testid': testid, 'data-rows': rows.length }, h('thead', null, h('tr', null, ...head.map((x) => h('th', null, x)))), body),
    more);
}

export const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// mayDo tells whether role may use a part of the console (the API's
// roles, README "The HTTP API").
export function mayDo(role: string, part: 'person' | 'chain' | 'clusters' | 'audit' | 'colours'): boolean {
  const allowed: Record<string, string[]> = {
    person: ['epidemiologist', 'auditor', 'admin'],
    colours: ['epidemiologist', 'auditor', 'admin'],
    chain: ['epidemiologist', 'admin'],
    clusters: ['epidemiologist', 'admin'],
    audit: ['auditor', 'admin'],
  };
  return allowed[part].includes(role);
}
