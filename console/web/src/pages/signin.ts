// Signing in with a token of an epidemiologist, an auditor or an admin.

import { ApiError, keepSession, signIn } from '../api';
import { h, replace } from '../dom';
import { t } from '../i18n';
import { errorBox, word } from '../ui';

const consoleRoles = ['epidemiologist', 'auditor', 'admin'];

export function signinPage(main: HTMLElement, done: () => void, notice?: string): void {
  const token = h('input', { type: 'password', size: 50, autocomplete: 'off', placeholder: 'rl_…', 'data-testid': 'signin-token', required: true });
  const msg = h('div', { 'data-testid': 'signin-message' }, notice ? h('p', { class: 'error-inline' }, notice) : null);
  const form = h('form', {
    class: 'signin', onsubmit: async (e: Event) => {
      e.preventDefault();
      const v = token.value.trim();
      if (!v) return;
      replace(msg, h('p', { class: 'muted' }, t('common.loading')));
      try {
        const s = await signIn(v);
        if (!consoleRoles.includes(s.role)) {
          replace(msg, errorBox(new ApiError(403, 'forbidden', t('signin.role', { role: word('role', s.role) }))));
          return;
        }
        keepSession(s);
        done();
      } catch (err) {
        replace(msg, errorBox(err));
      }
    },
  },
    h('h1', null, t('signin.title')),
    h('p', null, t('signin.help')),
    h('label', null, t('signin.token'), h('br'), token),
    h('p', { class: 'muted small' }, t('signin.where')),
    h('button', { type: 'submit', 'data-testid': 'signin-submit' }, t('signin.submit')),
    msg);
  replace(main, form);
  token.focus();
}
