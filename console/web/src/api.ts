// The JSON API as the console calls it: a bearer token, a reason for each
// look at personal data, errors as {code, message}.

import type { Whoami } from './types';

// ApiError is a refused or failed call: the API's code and sentence.
export class ApiError extends Error {
  constructor(public status: number, public code: string, message: string) {
    super(message);
  }
}

// Session is who signed in.
export interface Session {
  token: string;
  tokenId: string;
  role: string;
  zone: string;
}

const sessionKey = 'riskledger.console.session';
let session: Session | null = null;
let onUnauthenticated: () => void = () => {};

// The token is kept for this tab only (sessionStorage), never in
// localStorage.
export function loadSession(): Session | null {
  try {
    const v = sessionStorage.getItem(sessionKey);
    session = v ? (JSON.parse(v) as Session) : null;
  } catch {
    session = null;
  }
  return session;
}

export function currentSession(): Session | null {
  return session;
}

export function signOut(): void {
  session = null;
  sessionStorage.removeItem(sessionKey);
  cache.clear();
}

// whenUnauthenticated sets what happens when a call is refused for its
// token (revoked, expired): the console signs out.
export function whenUnauthenticated(fn: () => void): void {
  onUnauthenticated = fn;
}

// signIn checks a token with GET /v1/whoami and keeps it.
export async function signIn(token: string): Promise<Session> {
  const who = (await fetchJSON('/v1/whoami', {}, token)) as Whoami;
  const s: Session = { token, tokenId: who.token_id, role: who.role, zone: who.zone || 'UTC' };
  return s;
}

export function keepSession(s: Session): void {
  session = s;
  sessionStorage.setItem(sessionKey, JSON.stringify(s));
}

type Params = Record<string, string | number | boolean | null | undefined>;

function url(path: string, params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  }
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

async function request(path: string, params: Params, token: string): Promise<Response> {
  let resp: Response;
  try {
    resp = await fetch(url(path, params), { headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' }, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', String(e));
  }
  if (!resp.ok) {
    let code = 'internal';
    let message = resp.statusText;
    try {
      const body = await resp.json();
      code = body.code ?? code;
      message = body.message ?? message;
    } catch {
      // not JSON: keep the status text
    }
    if (resp.status === 401 && session && token === session.token) {
      signOut();
      onUnauthenticated();
    }
    throw new ApiError(resp.status, code, message);
  }
  return resp;
}

async function fetchJSON(path: string, params: Params, token?: string): Promise<unknown> {
  const tok = token ?? session?.token;
  if (!tok) throw new ApiError(401, 'unauthenticated', 'not signed in');
  const resp = await request(path, params, tok);
  return resp.json();
}

// cache keeps answers for this tab, keyed by path and parameters without
// the reason: switching language or coming back to a page shows them
// again without another look (and another access record).
const cache = new Map<string, Promise<unknown>>();

function key(path: string, params: Params): string {
  const { reason: _reason, ...rest } = params;
  return url(path, rest);
}

// get reads path, from the cache unless fresh.
export function get<T>(path: string, params: Params = {}, fresh = false): Promise<T> {
  const k = key(path, params);
  if (!fresh && cache.has(k)) return cache.get(k) as Promise<T>;
  const p = fetchJSON(path, params);
  cache.set(k, p);
  p.catch(() => cache.delete(k));
  return p as Promise<T>;
}

// getLines reads an answer of one JSON object a line (application/x-ndjson).
export function getLines<T>(path: string, params: Params = {}, fresh = false): Promise<T[]> {
  const k = key(path, params);
  if (!fresh && cache.has(k)) return cache.get(k) as Promise<T[]>;
  const tok = session?.token;
  if (!tok) return Promise.reject(new ApiError(401, 'unauthenticated', 'not signed in'));
  const p = request(path, params, tok).then(async (resp) => {
    const text = await resp.text();
    return text.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as T);
  });
  cache.set(k, p);
  p.catch(() => cache.delete(k));
  return p;
}

// cached tells whether an answer is at hand.
export function cached(path: string, params: Params = {}): boolean {
  return cache.has(key(path, params));
}
