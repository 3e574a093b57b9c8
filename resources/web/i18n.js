/* i18n.js: the phone page's translations
 *
 * The page's strings are English and belong to the program's gettext
 * catalogue (po/): app.js marks them with t() or, for the texts of
 * index.html, N_(), so that xgettext finds them; {0}, {1}… are filled in
 * by t(). Before anything is shown, loadCatalogue() fetches the
 * translations for the browser's languages (navigator.languages) from
 * web/i18n/{lang}.json; English needs no fetch. Elements with a data-t
 * attribute have their text translated, those with data-t-label their
 * aria-label.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
'use strict';

let catalogue = { lang: 'en', strings: {} };

/* Marks @text for translation where it is not translated yet. */
function N_ (text) {
  return text;
}

/* The translation of @text with {0}, {1}… replaced by the arguments. */
function t (text, ...args) {
  const translated = catalogue.strings[text] || text;

  return translated.replace(/\{(\d+)\}/g, (m, i) => String(args[Number(i)]));
}

/* Takes the catalogue of the first of the browser's languages the server
 * has one for; stops at English, the page's own language, and on a
 * network error (the page then shows English). */
async function loadCatalogue () {
  for (const lang of navigator.languages || [navigator.language]) {
    const tag = String(lang);
    let res;

    if (/^en([-_]|$)/i.test(tag))
      return;
    try {
      res = await fetch(`web/i18n/${encodeURIComponent(tag)}.json`);
      if (res.ok) {
        catalogue = { lang: tag, strings: await res.json() };
        return;
      }
    } catch (e) {
      return;
    }
  }
}

function translatePage () {
  document.documentElement.lang = catalogue.lang;
  for (const el of document.querySelectorAll('[data-t]'))
    el.textContent = t(el.textContent.trim().replace(/\s+/g, ' '));
  for (const el of document.querySelectorAll('[data-t-label]'))
    el.setAttribute('aria-label', t(el.getAttribute('aria-label')));
}
