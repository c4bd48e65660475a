// The delivery log: every attempt, newest first, filtered by endpoint,
// event type, outcome and time, with new attempts arriving as they
// happen; each opens in full, with resend.

import {h, replace, field, empty, outcomes} from './dom.js';
import {request, all, scoped, watch} from './api.js';
import {attemptTable, matches} from './attempts.js';
import {recoverCard} from './endpoint.js';

const PAGE = 50;

export async function logPage({view, query, signal}) {
  const [endpoints, types] = await Promise.all([
    all('endpoints', 'endpoints', scoped({limit: 100})),
    all('event-types', 'event_types'),
  ]);
  const byId = new Map(endpoints.map((e) => [e.id, e]));
  const f = {
    endpoint: query.get('endpoint') || '',
    event_type: query.get('event_type') || '',
    outcome: query.get('outcome') || '',
    after: query.get('after') || '',
    before: query.get('before') || '',
  };

  const endpoint = h('select', {name: 'endpoint'}, h('option', {value: ''}, 'All endpoints'),
    endpoints.map((e) => h('option', {value: e.id, selected: e.id === f.endpoint}, e.description ? `${e.description} (${e.url})` : e.url)));
  const eventType = h('select', {name: 'event_type'}, h('option', {value: ''}, 'All types'),
    types.map((t) => h('option', {value: t.name, selected: t.name === f.event_type}, t.name)));
  const outcome = h('select', {name: 'outcome'}, h('option', {value: ''}, 'Any outcome'),
    Object.entries(outcomes).map(([k, v]) => h('option', {value: k, selected: k === f.outcome}, v)));
  const after = h('input', {type: 'datetime-local', name: 'after', value: toLocal(f.after)});
  const before = h('input', {type: 'datetime-local', name: 'before', value: toLocal(f.before)});
  const filters = h('form', {class: 'filters', novalidate: true, role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    const set = (k, v) => { if (v) q.set(k, v); };
    set('endpoint', endpoint.value);
    set('event_type', eventType.value);
    set('outcome', outcome.value);
    set('after', after.value && new Date(after.value).toISOString());
    set('before', before.value && new Date(before.value).toISOString());
    const next = `#/log${q.toString() ? `?${q}` : ''}`;
    if (location.hash === next) view.dispatchEvent(new Event('reload'));
    else location.hash = next;
  }},
  field('Endpoint', endpoint), field('Event type', eventType), field('Outcome', outcome),
  field('From', after), field('Until', before),
  h('div', {class: 'filter-actions'}, h('button', {type: 'submit', class: 'primary'}, 'Apply'),
    h('a', {href: '#/log', class: 'button secondary'}, 'Clear')));

  const live = h('span', {class: 'live', role: 'status'}, 'Connecting…');
  const list = attemptTable({endpoints: byId});
  const holder = h('div', {}, h('p', {class: 'muted'}, 'Loading attempts…'));
  const more = h('button', {type: 'button', class: 'secondary', hidden: true}, 'Load older attempts');
  const filtered = Object.values(f).some(Boolean);
  const nothing = filtered
    ? empty('No attempts match these filters', 'Widen the time range or clear the filters.', h('a', {href: '#/log', class: 'button secondary'}, 'Clear filters'))
    : empty('No deliveries yet', 'When an event is sent to one of your endpoints, its delivery shows up here as it happens. Try sending a test event from an endpoint\'s page.',
      h('a', {href: '#/endpoints', class: 'button secondary'}, 'Go to your endpoints'));

  let iterator = '';
  const load = async (reset) => {
    const page = await request('GET', 'attempts', {signal, query: scoped({
      endpoint: f.endpoint, event_type: f.event_type, outcome: f.outcome, after: f.after, before: f.before,
      limit: PAGE, iterator: reset ? '' : iterator})});
    if (reset) list.clear();
    for (const a of page.attempts || []) list.add(a);
    iterator = page.done ? '' : page.iterator;
    more.hidden = !iterator;
    replace(holder, list.size ? list.el : nothing);
  };
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      await load(false);
    } finally {
      more.disabled = false;
    }
  });
  view.addEventListener('reload', () => load(true));

  replace(view,
    h('div', {class: 'page-head'}, h('div', {}, h('h1', {}, 'Delivery log'),
      h('p', {class: 'lede'}, 'Every attempt to deliver an event to your endpoints, newest first.')), live),
    h('section', {class: 'card'}, h('h2', {class: 'visually-hidden'}, 'Filters'), filters),
    f.endpoint && byId.has(f.endpoint) ? recoverCard(`endpoints/${encodeURIComponent(f.endpoint)}`)
      : h('p', {class: 'hint'}, 'Pick an endpoint to recover the events it missed since a time.'),
    holder, h('div', {class: 'actions start'}, more));
  await load(true);

  watch({endpoint: f.endpoint, signal,
    onAttempt: (a) => {
      if (!matches(a, {...f, tenant: scoped().tenant})) return;
      if (list.add(a, true)) replace(holder, list.el);
    },
    onState: (st) => {
      live.textContent = st === 'reconnecting' ? 'Reconnecting…' : (f.before ? 'Live (new attempts are after "Until")' : 'Live');
      live.classList.toggle('on', st !== 'reconnecting');
      if (st === 'resumed') load(true).catch(() => {});
    }});
}

function toLocal(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
