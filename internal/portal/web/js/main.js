// The portal's start: the credential from the URL's fragment or the
// sign-in form, the header (sections, who is signed in, the operator's
// tenant picker) and the hash router that draws one page at a time.

import {h, replace, field, alert} from './dom.js';
import {session, signIn, signOut, whoami, pickTenant, all, ApiError} from './api.js';
import {endpointsPage} from './endpoints.js';
import {endpointForm} from './endpointform.js';
import {endpointPage} from './endpoint.js';
import {catalogPage} from './catalog.js';
import {logPage} from './log.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

// A token handed over in the fragment (/portal/#token=…) is taken and
// the fragment replaced at once, so that it stays in neither the address
// bar nor the history. Fragments are never sent to a server.
function takeFragmentToken() {
  const params = new URLSearchParams(location.hash.replace(/^#\/?/, ''));
  const token = params.get('token');
  if (!token) return;
  signIn(token);
  history.replaceState(null, '', `${location.pathname}${location.search}#/endpoints`);
}

// routes map a hash path to a page; a page draws into the element it is
// given and returns a function that stops what it started (a live view).
const routes = [
  [/^\/endpoints\/?$/, () => endpointsPage],
  [/^\/endpoints\/new$/, () => (ctx) => endpointForm(ctx, null)],
  [/^\/endpoints\/([^/]+)\/edit$/, (m) => (ctx) => endpointForm(ctx, decodeURIComponent(m[1]))],
  [/^\/endpoints\/([^/]+)$/, (m) => (ctx) => endpointPage(ctx, decodeURIComponent(m[1]))],
  [/^\/catalog$/, () => catalogPage],
  [/^\/log$/, () => logPage],
];

let stop = () => {};
let generation = 0;

async function route() {
  stop();
  stop = () => {};
  const gen = ++generation;
  if (!session.credential) {
    signInPage();
    return;
  }
  const raw = location.hash.replace(/^#/, '') || '/endpoints';
  const [path, qs] = raw.split('?');
  let page = null;
  for (const [re, make] of routes) {
    const m = path.match(re);
    if (m) { page = make(m); break; }
  }
  const section = path.split('/')[1] || 'endpoints';
  for (const a of nav.querySelectorAll('a')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = h('div', {class: 'page'});
  replace(main, view);
  if (!page) {
    replace(view, h('h1', {tabindex: '-1'}, 'Page not found'),
      h('p', {}, 'There is nothing at this address. ', h('a', {href: '#/endpoints'}, 'Go to your endpoints.')));
    focusHeading();
    return;
  }
  const controller = new AbortController();
  stop = () => controller.abort();
  try {
    await page({view, query: new URLSearchParams(qs || ''), signal: controller.signal, current: () => gen === generation});
  } catch (e) {
    if (e.name === 'AbortError' || gen !== generation) return;
    replace(view, h('h1', {tabindex: '-1'}, 'Something went wrong'), alert(e.message || String(e)),
      h('p', {}, h('button', {type: 'button', class: 'secondary', onclick: route}, 'Try again')));
  }
  if (gen === generation) focusHeading();
}

// focusHeading moves focus to the page's heading after a navigation, so
// that keyboard and screen reader users start at the new page.
let firstDraw = true;
function focusHeading() {
  if (firstDraw) { firstDraw = false; return; }
  const h1 = main.querySelector('h1');
  if (h1) {
    h1.setAttribute('tabindex', '-1');
    h1.focus({preventScroll: false});
  }
}

function signInPage(message) {
  nav.hidden = true;
  replace(who);
  const input = h('input', {type: 'password', name: 'credential', autocomplete: 'off', spellcheck: 'false', required: true});
  const error = h('div');
  const submit = h('button', {type: 'submit', class: 'primary'}, 'Sign in');
  const form = h('form', {class: 'card signin', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    if (!value) {
      replace(error, alert('Paste a tenant token or an operator key.'));
      input.focus();
      return;
    }
    submit.disabled = true;
    signIn(value);
    try {
      await whoami();
      await start();
    } catch (e) {
      signOut();
      replace(error, alert(e.status === 401 ? 'That key or token was not accepted. Check that you pasted all of it, and that a token has not expired.' : e.message));
      submit.disabled = false;
      input.focus();
    }
  }},
  h('h1', {}, 'Sign in to your webhooks'),
  message && alert(message),
  h('p', {}, 'Paste the access token you were given, or an operator key. It is kept in this tab only, until you close it or sign out.'),
  error,
  field('Access token or operator key', input,
    'Running hookworker locally? The operator key is in the key file the worker named when it started (api-key in its data directory).'),
  h('div', {class: 'actions'}, submit));
  replace(main, form);
  input.focus();
}

async function drawHeader() {
  nav.hidden = false;
  const out = h('button', {type: 'button', class: 'link', onclick: () => { signOut(); route(); }}, 'Sign out');
  if (!session.operator) {
    replace(who, h('span', {class: 'tenant-chip', title: 'The tenant this token belongs to'}, session.tenant || 'Tenant'), out);
    return;
  }
  let tenants = [];
  try {
    tenants = await all('tenants', 'tenants', {limit: 100});
  } catch {
    tenants = [];
  }
  const select = h('select', {id: 'tenant-picker', name: 'tenant', onchange: () => { pickTenant(select.value); route(); }},
    h('option', {value: ''}, 'All tenants'),
    tenants.map((t) => h('option', {value: t.id, selected: t.id === session.tenant}, t.name ? `${t.name} (${t.id})` : t.id)));
  if (session.tenant && !tenants.some((t) => t.id === session.tenant)) pickTenant('');
  replace(who, h('span', {class: 'operator-chip'}, 'Operator'),
    h('label', {for: 'tenant-picker', class: 'visually-hidden'}, 'Tenant'), select, out);
}

async function start() {
  await drawHeader();
  if (!location.hash || location.hash === '#') history.replaceState(null, '', '#/endpoints');
  await route();
}

session.onExpired = (e) => {
  const msg = session.expires && session.expires < new Date()
    ? 'Your access token has expired. Ask for a new link, or paste a new token.'
    : `You were signed out: ${e.message}`;
  signOut();
  stop();
  signInPage(msg);
};

window.addEventListener('hashchange', () => {
  if (/token=/.test(location.hash)) {
    takeFragmentToken();
    boot();
    return;
  }
  route();
});

async function boot() {
  takeFragmentToken();
  if (!session.credential) {
    signInPage();
    return;
  }
  try {
    await whoami();
  } catch (e) {
    signOut();
    signInPage(e instanceof ApiError && e.status === 401 ? 'That access token was not accepted; it may have expired. Paste a new one.' : e.message);
    return;
  }
  await start();
}

boot();
