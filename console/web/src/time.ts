// Times as the ledger counts days: in its zone (whoami's zone), whatever
// the browser's.

import { lang } from './i18n';

let zone = 'Asia/Shanghai';
let partsFormat: Intl.DateTimeFormat | null = null;

export const DAY = 24 * 3600 * 1000;

// setZone sets the zone days are drawn in; an unknown zone keeps UTC.
export function setZone(z: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: z });
    zone = z;
  } catch {
    zone = 'UTC';
  }
  partsFormat = null;
}

export function currentZone(): string {
  return zone;
}

interface Parts {
  y: number;
  m: number;
  d: number;
  H: number;
  M: number;
  S: number;
}

function parts(ms: number): Parts {
  if (!partsFormat) {
    partsFormat = new Intl.DateTimeFormat('en-US', {
      timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
  }
  const p: Record<string, number> = {};
  for (const x of partsFormat.formatToParts(new Date(ms))) {
    if (x.type !== 'literal') p[x.type] = Number(x.value);
  }
  return { y: p.year, m: p.month, d: p.day, H: p.hour % 24, M: p.minute, S: p.second };
}

function offset(ms: number): number {
  const p = parts(ms);
  return Date.UTC(p.y, p.m - 1, p.d, p.H, p.M, p.S) - Math.floor(ms / 1000) * 1000;
}

function fromLocal(y: number, m: number, d: number, H = 0, M = 0, S = 0): number {
  const guess = Date.UTC(y, m - 1, d, H, M, S);
  const first = guess - offset(guess);
  return guess - offset(first);
}

// dayStart is the start of the local day holding ms.
export function dayStart(ms: number): number {
  const p = parts(ms);
  return fromLocal(p.y, p.m, p.d);
}

// addDays moves a day's start n days on (days are not always 24 h long).
export function addDays(start: number, n: number): number {
  return dayStart(start + n * DAY + 6 * 3600 * 1000);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

// fmtTime writes a time as YYYY-MM-DD HH:MM in the ledger's zone.
export function fmtTime(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '';
  const ms = typeof iso === 'number' ? iso : Date.parse(iso);
  if (isNaN(ms)) return String(iso);
  const p = parts(ms);
  return `${p.y}-${pad(p.m)}-${pad(p.d)} ${pad(p.H)}:${pad(p.M)}`;
}

// fmtDay writes a day's start as a short date in the console's language.
export function fmtDay(ms: number): string {
  return new Intl.DateTimeFormat(lang() === 'zh' ? 'zh-CN' : 'en-GB', { timeZone: zone, month: 'short', day: 'numeric' }).format(new Date(ms));
}

// parseInput reads a time typed by a person: RFC 3339 with an offset, or
// YYYY-MM-DD[ HH:MM[:SS]] in the ledger's zone. Empty is null; a time it
// cannot read is undefined.
export function parseInput(v: string): string | null | undefined {
  v = v.trim();
  if (v === '') return null;
  const local = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(v);
  if (local) {
    const [, y, m, d, H, M, S] = local;
    return new Date(fromLocal(+y, +m, +d, +(H ?? 0), +(M ?? 0), +(S ?? 0))).toISOString();
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) {
    const ms = Date.parse(v);
    if (!isNaN(ms)) return new Date(ms).toISOString();
  }
  return undefined;
}
