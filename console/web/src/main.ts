// The console's shell: the header (pages, who is signed in, the language
// switch) and the pages by the location's hash (#/person/ID?at=...).

import { currentSession, loadSession, signOut, whenUnauthenticated } from './api';
import { h, replace } from './dom';
import { lang, onLangChange, setLang, t } from './i18n';
import { forgetReasons } from './reason';
import { currentZone, setZone } from './time';
import { auditPage } from './pages/audit';
import { chainPage } from './pages/chain';
import { clustersPage } from './pages/clusters';
import { personPage } from './pages/person';
import { searchPage } from './pages/search';
import { signinPage } from './pages/signin';
import { mayDo, type PageContext, word } from './ui';

const app = document.getElementById('app')!;
let generation = 0;
let notice: string | undefined;

function route(): { path: string[]; params: URLSearchParams } {
  const hash = location.hash.replace(/^#\/?/, '');
  const [p, q] = hash.split('?', 2);
  return { path: p.split('/').filter((x) => x !== '').map(decodeURIComponent), params: new URLSearchParams(q ?? '') };
}

function langSwitch(): HTMLElement {
  const other = lang() === 'zh' ? 'en' : 'zh';
  return h('button', {
    type: 'button', class: 'lang', 'data-testid': 'lang-switch', 'data-lang': lang(), lang: other,
    title: t('nav.language'), onclick: () => setLang(other),
  }, other === 'zh' ? '中文' : 'English');
}

function header(page: string): HTMLElement {
  const s = currentSession();
  const link = (id: string, href: string, label: string) =>
    h('a', { href, class: page === id ? 'active' : '', 'data-testid': `nav-${id}` }, label);
  return h('header', null,
    h('div', { class: 'brand' }, h('span', { class: 'logo', 'aria-hidden': 'true' }, h('i', { class: 'c-green' }), h('i', { class: 'c-yellow' }), h('i', { class: 'c-red' })), t('app.title')),
    s ? h('nav', null,
      link('search', '#/search', t('nav.search')),
      mayDo(s.role, 'clusters') ? link('clusters', '#/clusters', t('nav.clusters')) : null,
      mayDo(s.role, 'audit') ? link('audit', '#/audit', t('nav.audit')) : null) : h('nav'),
    h('div', { class: 'who' },
      s ? h('span', { 'data-testid': 'who', 'data-role': s.role }, t('nav.signedInAs', { role: word('role', s.role), id: s.tokenId })) : null,
      langSwitch(),
      s ? h('button', { type: 'button', class: 'secondary', 'data-testid': 'signout', onclick: () => { signOut(); forgetReasons(); location.hash = '#/search'; render(); } }, t('nav.signOut')) : null));
}

function footer(): HTMLElement {
  return h('footer', null, t('app.footer', { zone: currentZone() }));
}

// render draws the page of the hash; a page still loading when another is
// asked for stops drawing (alive).
export function render(): void {
  const gen = ++generation;
  document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en';
  document.title = t('app.title');
  const main = h('main');
  const { path, params } = route();
  const s = currentSession();
  if (!s) {
    replace(app, header(''), main, footer());
    signinPage(main, () => {
      notice = undefined;
      setZone(currentSession()!.zone);
      render();
    }, notice);
    return;
  }
  const page = path[0] || 'search';
  replace(app, header(page === 'person' || page === 'chain' ? 'search' : page), main, footer());
  const ctx: PageContext = { main, path, params, alive: () => gen === generation };
  const denied = () => replace(main, h('p', { class: 'error-inline', 'data-testid': 'denied' }, t('nav.denied', { role: word('role', s.role) })));
  switch (page) {
    case 'search':
      return searchPage(ctx);
    case 'person':
      void personPage(ctx);
      return;
    case 'chain':
      if (!mayDo(s.role, 'chain')) return denied();
      void chainPage(ctx);
      return;
    case 'clusters':
      if (!mayDo(s.role, 'clusters')) return denied();
      void clustersPage(ctx);
      return;
    case 'audit':
      if (!mayDo(s.role, 'audit')) return denied();
      return auditPage(ctx);
    default:
      replace(main, h('p', { class: 'error-inline' }, t('nav.unknown')));
  }
}

const session = loadSession();
if (session) setZone(session.zone);
whenUnauthenticated(() => {
  forgetReasons();
  notice = t('signin.expired');
  render();
});
onLangChange(render);
window.addEventListener('hashchange', render);
render();
