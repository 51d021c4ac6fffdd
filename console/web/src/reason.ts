// Reasons for looks at personal data: the API records each look with its
// reason. The console asks once per person opened (and once for the
// clusters, the colour list and the access log) and keeps the answer for
// this tab.

import { h } from './dom';
import { t } from './i18n';

const reasons = new Map<string, string>();
let last = '';

export function reasonFor(scope: string): string | undefined {
  return reasons.get(scope);
}

export function setReason(scope: string, reason: string): void {
  reasons.set(scope, reason);
  last = reason;
}

export function forgetReasons(): void {
  reasons.clear();
  last = '';
}

// askReason asks for a reason for a look at what (a sentence), filled in
// with the last reason given; null when the person cancels.
export function askReason(what: string): Promise<string | null> {
  return new Promise((resolve) => {
    const input = h('input', { type: 'text', required: true, minlength: 3, 'data-testid': 'reason-input', value: last, autocomplete: 'off' });
    const error = h('p', { class: 'error', hidden: true }, t('reason.empty'));
    const dialog = h('dialog', { class: 'reason', 'data-testid': 'reason-dialog' });
    let answered = false;
    const finish = (v: string | null) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      resolve(v);
    };
    const form = h('form', {
      method: 'dialog',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const v = input.value.trim();
        if (v.length < 3) {
          error.hidden = false;
          input.focus();
          return;
        }
        finish(v);
      },
    },
      h('h2', null, t('reason.title')),
      h('p', null, what),
      h('p', { class: 'muted' }, t('reason.recorded')),
      h('label', null, t('reason.label'), input),
      error,
      h('div', { class: 'buttons' },
        h('button', { type: 'button', class: 'secondary', 'data-testid': 'reason-cancel', onclick: () => finish(null) }, t('common.cancel')),
        h('button', { type: 'submit', 'data-testid': 'reason-ok' }, t('reason.ok'))),
    );
    dialog.appendChild(form);
    dialog.addEventListener('cancel', (e) => {
      e.preventDefault();
      finish(null);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    input.focus();
    input.select();
  });
}

// needReason answers the reason kept for scope, or asks for one.
export async function needReason(scope: string, what: string): Promise<string | null> {
  const kept = reasons.get(scope);
  if (kept) return kept;
  const r = await askReason(what);
  if (r) setReason(scope, r);
  return r;
}
