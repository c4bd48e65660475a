// Building the page: every element is made with createElement and every
// string goes in as a text node or an attribute value, never as markup, so
// that what a tenant or a receiver sent is shown as text whatever it holds.

const SVG = 'http://www.w3.org/2000/svg';

// h returns a new element: h('a', {href: '#/x', class: 'button'}, 'text', child…).
// Attributes: on{Event} functions become listeners; value, checked,
// disabled, hidden, selected and open are set as properties; null,
// undefined and false leave an attribute out. Children: strings and
// numbers become text nodes, arrays are flattened, null and false skipped.
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s is h for SVG elements.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

const props = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'open', 'required', 'multiple']);

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (props.has(k)) {
      el[k] = v;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.append(c);
    else el.append(document.createTextNode(String(c)));
  }
}

// replace empties el and puts children in it.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let ids = 0;
// uid returns a new element id with prefix, for labels and descriptions.
export function uid(prefix) {
  ids += 1;
  return `${prefix}-${ids}`;
}

// field returns a labelled form control: label, the control, an optional hint.
export function field(label, control, hint) {
  if (!control.id) control.id = uid('f');
  const parts = [h('label', {for: control.id}, label)];
  if (hint) {
    const hid = uid('hint');
    control.setAttribute('aria-describedby', hid);
    parts.push(control, h('p', {class: 'hint', id: hid}, hint));
  } else {
    parts.push(control);
  }
  return h('div', {class: 'field'}, parts);
}

// The outcome of an attempt, in words.
export const outcomes = {delivered: 'Delivered', retry: 'Failed, will retry', failed: 'Failed'};

export function outcomeBadge(outcome) {
  const cls = {delivered: 'ok', retry: 'warn', failed: 'bad'}[outcome] || '';
  return h('span', {class: `badge ${cls}`}, outcomes[outcome] || outcome);
}

// time formats an RFC 3339 time in the reader's zone; the exact value is
// in a title.
export function time(iso, withDate = true) {
  if (!iso) return h('span', {class: 'muted'}, '—');
  const d = new Date(iso);
  const opts = withDate
    ? {year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit'}
    : {hour: '2-digit', minute: '2-digit', second: '2-digit'};
  return h('time', {datetime: iso, title: iso}, d.toLocaleString(undefined, opts));
}

// duration formats milliseconds.
export function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

// pretty returns v as indented JSON text (a string as itself).
export function pretty(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v, null, 2);
}

// empty is an empty state: what is missing and what to do next.
export function empty(title, text, action) {
  return h('div', {class: 'empty'}, h('p', {class: 'empty-title'}, title), text && h('p', {}, text), action);
}

// alert is an error shown in words where it happened.
export function alert(message) {
  return h('div', {class: 'alert', role: 'alert'}, message);
}

// toast shows a short message in the live region for a few seconds.
export function toast(message, kind = 'ok') {
  const box = document.getElementById('toasts');
  const t = h('div', {class: `toast ${kind}`}, message);
  box.append(t);
  setTimeout(() => t.remove(), 5000);
}

// confirmDialog asks a question in a modal dialog and resolves to true
// when the user confirms. extra are more controls (a reason field);
// their values are read by the caller before the promise resolves.
export function confirmDialog({title, text, confirm, danger = false, extra}) {
  return new Promise((resolve) => {
    const yes = h('button', {type: 'submit', class: danger ? 'danger' : 'primary', value: 'yes'}, confirm);
    const no = h('button', {type: 'button', class: 'secondary', onclick: () => dlg.close('no')}, 'Cancel');
    const form = h('form', {method: 'dialog'},
      h('h2', {}, title), text && h('p', {}, text), extra,
      h('div', {class: 'actions'}, no, yes));
    const dlg = h('dialog', {class: 'dialog', 'aria-label': title}, form);
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'yes');
      dlg.remove();
    });
    document.body.append(dlg);
    dlg.showModal();
    no.focus();
  });
}

// table builds a table; columns are [{label, cell(row) → node or text, class}].
// On narrow screens each row shows as a card, its cells labelled.
export function table(columns, rows, caption) {
  return h('div', {class: 'table-wrap'},
    h('table', {class: 'table'},
      caption && h('caption', {class: 'visually-hidden'}, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', {scope: 'col', class: c.class}, c.label)))),
      h('tbody', {}, rows.map((r) => row(columns, r)))));
}

export function row(columns, r) {
  return h('tr', {}, columns.map((c) => h('td', {'data-label': c.label, class: c.class}, c.cell(r))));
}

// credentialHeader reports whether a header's name marks a credential, by
// the rule the delivery log redacts by: authorization, proxy-authorization,
// cookie, set-cookie, webhook-signature, and every name holding token,
// secret or key. The portal shows such a value only in the edit form, as a
// password field.
export function credentialHeader(name) {
  const n = String(name).toLowerCase();
  return ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'webhook-signature'].includes(n) ||
    n.includes('token') || n.includes('secret') || n.includes('key');
}
