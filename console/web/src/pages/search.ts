// Finding a person: by id, or by identity document (a look at personal
// data: it asks for a reason and is recorded); and the persons whose
// projected colour is not green.

import { get, getLines } from '../api';
import { h, replace } from '../dom';
import { t } from '../i18n';
import { askReason, needReason, setReason } from '../reason';
import type { ColourRow } from '../types';
import { colourChip, errorBox, loading, type PageContext, personLink, section, table, uuidPattern } from '../ui';

export function searchPage(ctx: PageContext): void {
  const { main } = ctx;
  const idIn = h('input', { type: 'text', size: 38, placeholder: '6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f', 'data-testid': 'search-person', autocomplete: 'off' });
  const idMsg = h('div');
  const byId = h('form', {
    class: 'controls', onsubmit: (e: Event) => {
      e.preventDefault();
      const id = idIn.value.trim().toLowerCase();
      if (!uuidPattern.test(id)) {
        replace(idMsg, errorBox(new Error(t('person.badId', { id }))));
        return;
      }
      location.hash = `#/person/${id}`;
    },
  }, h('label', null, t('search.personId'), ' ', idIn), ' ', h('button', { type: 'submit', 'data-testid': 'search-open' }, t('search.open')));

  const typeSel = h('select', { 'data-testid': 'search-doc-type' },
    ...['resident_id', 'passport', 'other'].map((v) => h('option', { value: v }, t(`document.${v}` as 'document.resident_id'))));
  const numIn = h('input', { type: 'text', size: 22, 'data-testid': 'search-doc-number', autocomplete: 'off' });
  const countryIn = h('input', { type: 'text', size: 4, value: 'CN', maxlength: 2, 'data-testid': 'search-doc-country' });
  const docMsg = h('div');
  const byDoc = h('form', {
    class: 'controls', onsubmit: async (e: Event) => {
      e.preventDefault();
      if (!numIn.value.trim() || !countryIn.value.trim()) {
        replace(docMsg, errorBox(new Error(t('search.docMissing'))));
        return;
      }
      const reason = await askReason(t('reason.search'));
      if (!reason || !ctx.alive()) return;
      replace(docMsg, loading());
      try {
        const found = await get<{ person_id: string }>('/v1/persons', {
          document_type: typeSel.value, document_number: numIn.value.trim(), country: countryIn.value.trim().toUpperCase(), reason,
        }, true);
        // The look that found the person is the one that opens them.
        setReason(`person:${found.person_id}`, reason);
        location.hash = `#/person/${found.person_id}`;
      } catch (err) {
        if (ctx.alive()) replace(docMsg, errorBox(err));
      }
    },
  },
    h('label', null, t('search.docType'), ' ', typeSel), ' ',
    h('label', null, t('search.docNumber'), ' ', numIn), ' ',
    h('label', null, t('search.docCountry'), ' ', countryIn), ' ',
    h('button', { type: 'submit', 'data-testid': 'search-document' }, t('search.find')));

  const listBox = h('div');
  const list = h('button', {
    type: 'button', 'data-testid': 'list-not-green', onclick: async () => {
      const reason = await needReason('colours', t('reason.colours'));
      if (!reason || !ctx.alive()) return;
      replace(listBox, loading());
      try {
        const rows = (await getLines<ColourRow>('/v1/colours', { reason })).filter((r) => r.colour !== 'green');
        const rank: Record<string, number> = { red: 0, yellow: 1 };
        rows.sort((a, b) => rank[a.colour] - rank[b.colour] || a.person_id.localeCompare(b.person_id));
        if (!ctx.alive()) return;
        replace(listBox, rows.length === 0
          ? h('p', { class: 'muted' }, t('search.allGreen'))
          : table('not-green', [t('search.person'), t('search.colour')], rows.map((r) => [personLink(r.person_id, r.person_id), colourChip(r.colour)]), 100));
      } catch (err) {
        if (ctx.alive()) replace(listBox, errorBox(err));
      }
    },
  }, t('search.listNotGreen'));

  replace(main,
    h('h1', null, t('search.title')),
    section(t('search.byId'), 'search-by-id', byId, idMsg),
    section(t('search.byDocument'), 'search-by-document', h('p', { class: 'muted' }, t('search.documentHelp')), byDoc, docMsg),
    section(t('search.notGreen'), 'search-not-green', h('p', { class: 'muted' }, t('search.notGreenHelp')), list, listBox));
}
