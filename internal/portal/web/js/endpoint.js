// An endpoint's page: its settings, its signing secret (hidden until
// asked, with a copy button) and rotation, a chart of its deliveries by
// outcome per hour, a test event, recovery since a time, and its recent
// attempts as they happen.

import {h, s, replace, field, alert, toast, confirmDialog, empty, time, credentialHeader} from './dom.js';
import {request, all, scoped, session, watch} from './api.js';
import {state, successRate} from './endpoints.js';
import {attemptTable, matches} from './attempts.js';

export async function endpointPage({view, signal}, id) {
  const path = `endpoints/${encodeURIComponent(id)}`;
  let e;
  try {
    e = await request('GET', path);
  } catch (err) {
    if (err.status !== 404) throw err;
    replace(view, h('h1', {}, 'Endpoint not found'),
      empty('There is no such endpoint', 'It may have been deleted.', h('a', {href: '#/endpoints', class: 'button secondary'}, 'See your endpoints')));
    return;
  }
  const types = await all('event-types', 'event_types');

  const stateEl = h('span', {}, state(e));
  const toggle = h('button', {type: 'button', class: 'secondary', onclick: () => (e.disabled ? enable() : disable())}, e.disabled ? 'Enable' : 'Disable');
  const actions = h('div', {class: 'toolbar'},
    h('a', {href: `#/${path}/edit`, class: 'button secondary'}, 'Edit'),
    toggle,
    h('button', {type: 'button', class: 'danger', onclick: remove}, 'Delete'));

  async function disable() {
    const reason = h('input', {type: 'text', name: 'reason', maxlength: 256, autocomplete: 'off'});
    const ok = await confirmDialog({title: 'Disable this endpoint?', confirm: 'Disable',
      text: 'It receives nothing until you enable it again; events sent meanwhile can be recovered then.',
      extra: field('Reason (optional)', reason, 'Shown beside the endpoint.')});
    if (!ok) return;
    await patch({disabled: true, disabled_reason: reason.value.trim() || 'Disabled in the portal'}, 'Endpoint disabled.');
  }
  async function enable() {
    await patch({disabled: false, disabled_reason: ''}, 'Endpoint enabled. Recover what it missed below.');
  }
  async function patch(body, done) {
    toggle.disabled = true;
    try {
      e = await request('PATCH', path, {body});
      replace(stateEl, state(e));
      toggle.textContent = e.disabled ? 'Enable' : 'Disable';
      toast(done);
    } catch (err) {
      toast(err.message, 'bad');
    }
    toggle.disabled = false;
  }
  async function remove() {
    const ok = await confirmDialog({title: 'Delete this endpoint?', confirm: 'Delete endpoint', danger: true,
      text: `${e.url} stops receiving events and its signing secret is deleted. This cannot be undone.`});
    if (!ok) return;
    try {
      await request('DELETE', path);
      toast('Endpoint deleted.');
      location.hash = '#/endpoints';
    } catch (err) {
      toast(err.message, 'bad');
    }
  }

  replace(view,
    h('p', {class: 'crumbs'}, h('a', {href: '#/endpoints'}, '← Endpoints')),
    h('div', {class: 'page-head'},
      h('div', {class: 'grow'}, h('h1', {class: 'url'}, e.url), e.description && h('p', {class: 'lede'}, e.description),
        h('p', {}, stateEl)),
      actions),
    h('div', {class: 'grid'},
      details(e),
      secretCard(path)),
    await chartCard(path),
    h('div', {class: 'grid'},
      testCard(path, types.filter((t) => !t.archived).sort((x, y) => wanted(e, y) - wanted(e, x))),
      recoverCard(path)),
    await recentCard(e, signal));
}

// wanted is 1 when endpoint e receives event type t by name, so that its
// own types come first among the test events.
function wanted(e, t) {
  return (e.event_types || []).includes(t.name) ? 1 : 0;
}

function details(e) {
  const rows = [
    ['ID', h('code', {}, e.id)],
    session.operator && ['Tenant', e.tenant || 'None'],
    ['Event types', e.event_types && e.event_types.length ? e.event_types.join(', ') : 'All types'],
    ['Channels', e.channels && e.channels.length ? e.channels.join(', ') : 'All channels'],
    ['Headers', Object.keys(e.headers || {}).length ? Object.entries(e.headers).map(([k, v]) => h('div', {}, h('code', {}, k), ': ',
      credentialHeader(k) ? h('span', {class: 'muted', title: 'Hidden: the name marks a credential. Edit the endpoint to see it.'}, '••••••••') : v)) : 'None'],
    ['Rate limit', e.rate_limit ? `${e.rate_limit} requests a second` : 'None'],
    ['Order', e.ordered ? 'In order, one event at a time' : 'As fast as possible'],
    ['Retry schedule', e.retry_schedule && e.retry_schedule.length ? e.retry_schedule.join(', ') : 'The default'],
    ['Timeout', e.timeout && e.timeout !== '0s' ? e.timeout : 'The default'],
    ['Authentication', e.auth ? {mtls: 'Client certificate', oauth2: 'OAuth 2 client credentials'}[e.auth.type] || e.auth.type : 'Signature only'],
    ['Created', time(e.created_at)],
    ['Changed', time(e.updated_at)],
  ].filter(Boolean);
  return h('section', {class: 'card'}, h('h2', {}, 'Settings'),
    h('dl', {class: 'facts'}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));
}

function secretCard(path) {
  const shown = h('code', {class: 'secret', id: 'secret-value'}, 'whsec_••••••••••••••••');
  const reveal = h('button', {type: 'button', class: 'secondary', 'aria-controls': 'secret-value'}, 'Reveal');
  const copy = h('button', {type: 'button', class: 'secondary', hidden: true}, 'Copy');
  const msg = h('div');
  let secret = '';
  reveal.addEventListener('click', async () => {
    if (secret) {
      secret = '';
      shown.textContent = 'whsec_••••••••••••••••';
      reveal.textContent = 'Reveal';
      copy.hidden = true;
      return;
    }
    try {
      secret = (await request('GET', `${path}/secret`)).secret;
      shown.textContent = secret;
      reveal.textContent = 'Hide';
      copy.hidden = false;
      replace(msg);
    } catch (err) {
      replace(msg, alert(err.message));
    }
  });
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(secret);
      toast('Secret copied.');
    } catch {
      const r = document.createRange();
      r.selectNodeContents(shown);
      getSelection().removeAllRanges();
      getSelection().addRange(r);
      toast('Press Ctrl+C (or ⌘C) to copy the selected secret.', 'warn');
    }
  });
  const rotate = h('button', {type: 'button', class: 'secondary', onclick: async () => {
    const ok = await confirmDialog({title: 'Rotate the signing secret?', confirm: 'Rotate',
      text: 'A new secret signs every delivery from now on. The current one keeps signing beside it for a day, so you can update your server without losing a delivery.'});
    if (!ok) return;
    try {
      await request('POST', `${path}/rotate`, {body: {}});
      secret = (await request('GET', `${path}/secret`)).secret;
      shown.textContent = secret;
      reveal.textContent = 'Hide';
      copy.hidden = false;
      replace(msg, h('p', {class: 'notice', role: 'status'}, 'The secret was rotated: this is the new one.'));
    } catch (err) {
      replace(msg, alert(err.message));
    }
  }}, 'Rotate secret');
  return h('section', {class: 'card'}, h('h2', {}, 'Signing secret'),
    h('p', {class: 'hint'}, 'Use it to check the webhook-signature header of each request (Standard Webhooks).'),
    h('p', {class: 'secret-line'}, shown),
    h('div', {class: 'toolbar'}, reveal, copy, rotate),
    msg);
}

async function chartCard(path) {
  const card = h('section', {class: 'card'}, h('h2', {}, 'Deliveries, last 24 hours'));
  let st;
  try {
    st = await request('GET', `${path}/stats`);
  } catch (err) {
    card.append(alert(`The chart could not be loaded: ${err.message}`));
    return card;
  }
  card.append(h('p', {class: 'hint'}, 'Success rate: ', successRate(st.total)));
  const n = st.total.delivered + st.total.retry + st.total.failed;
  if (n === 0) {
    card.append(empty('No deliveries in the last 24 hours', 'Send a test event below to see one.'));
    return card;
  }
  card.append(chart(st), h('ul', {class: 'legend'},
    h('li', {}, h('span', {class: 'key delivered'}), `Delivered ${st.total.delivered}`),
    h('li', {}, h('span', {class: 'key retry'}), `Failed, retried ${st.total.retry}`),
    h('li', {}, h('span', {class: 'key failed'}), `Failed ${st.total.failed}`)));
  return card;
}

// chart draws the hours as stacked bars: delivered, retried, failed.
function chart(st) {
  const end = new Date(st.until);
  end.setUTCMinutes(0, 0, 0); // the stats count by UTC hour
  const byHour = new Map(st.hours.map((x) => [new Date(x.hour).getTime(), x]));
  const hours = [];
  for (let i = 23; i >= 0; i--) {
    const t = end.getTime() - i * 3600e3;
    hours.push(byHour.get(t) || {hour: new Date(t).toISOString(), delivered: 0, retry: 0, failed: 0});
  }
  const max = Math.max(1, ...hours.map((x) => x.delivered + x.retry + x.failed));
  const W = 720, H = 160, pad = 1, bw = W / 24;
  const bars = hours.map((x, i) => {
    let y = H - pad;
    const parts = [];
    for (const k of ['delivered', 'retry', 'failed']) {
      if (!x[k]) continue;
      const hgt = Math.max(1, (x[k] / max) * (H - pad - 8));
      y -= hgt;
      parts.push(s('rect', {x: i * bw + 2, y, width: bw - 4, height: hgt, class: `bar ${k}`}));
    }
    const label = new Date(x.hour).toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit'});
    return s('g', {}, s('title', {}, `${label}: ${x.delivered} delivered, ${x.retry} retried, ${x.failed} failed`), parts);
  });
  // The hour labels are HTML under the bars, so that they keep their size
  // while the bars stretch to the card's width.
  const ticks = h('div', {class: 'chart-ticks', 'aria-hidden': 'true'}, [0, 6, 12, 18, 23].map((i) =>
    h('span', {}, new Date(hours[i].hour).toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit'}))));
  const total = st.total.delivered + st.total.retry + st.total.failed;
  return h('div', {class: 'chart-box'},
    s('svg', {viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', class: 'chart', role: 'img',
      'aria-label': `Deliveries per hour over the last 24 hours: ${st.total.delivered} of ${total} delivered, ${st.total.retry} retried, ${st.total.failed} failed; at most ${max} in an hour.`},
    s('line', {x1: 0, x2: W, y1: H - pad, y2: H - pad, class: 'axis'}), bars),
    ticks);
}

function testCard(path, types) {
  const card = h('section', {class: 'card'}, h('h2', {}, 'Send a test event'));
  if (types.length === 0) {
    card.append(empty('No event types to test with', 'The catalog has no event types yet.'));
    return card;
  }
  const select = h('select', {name: 'event_type'}, types.map((t) => h('option', {value: t.name}, t.name)));
  const msg = h('div');
  const send = h('button', {type: 'submit', class: 'primary'}, 'Send test event');
  card.append(h('form', {novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    send.disabled = true;
    try {
      const r = await request('POST', `${path}/test`, {body: {event_type: select.value}});
      replace(msg, h('p', {class: 'notice', role: 'status'}, `Test event ${r.event_id} sent. Its delivery appears under Recent attempts.`));
    } catch (err) {
      replace(msg, alert(err.message));
    }
    send.disabled = false;
  }}, h('p', {class: 'hint'}, 'Sends the type\'s example payload to this endpoint alone.'),
  field('Event type', select), h('div', {class: 'actions start'}, send), msg));
  return card;
}

// recoverCard is the form that recovers what the endpoint at path missed
// since a time; the delivery log shows it too.
export function recoverCard(path) {
  const since = h('input', {type: 'datetime-local', name: 'since', required: true, value: localInput(new Date(Date.now() - 3600e3))});
  const msg = h('div');
  const go = h('button', {type: 'submit', class: 'secondary'}, 'Recover');
  return h('section', {class: 'card'}, h('h2', {}, 'Recover missed events'),
    h('form', {novalidate: true, onsubmit: async (ev) => {
      ev.preventDefault();
      if (!since.value) {
        replace(msg, alert('Pick the time to recover from.'));
        since.focus();
        return;
      }
      go.disabled = true;
      try {
        const body = {since: new Date(since.value).toISOString()};
        if (session.operator && session.tenant) body.tenant = session.tenant;
        const r = await request('POST', `${path}/recover`, {body});
        replace(msg, h('p', {class: 'notice', role: 'status'},
          r.events === 0 ? 'Nothing to recover: every event since then was delivered.' : `${r.events} event${r.events === 1 ? '' : 's'} sent again.`));
      } catch (err) {
        replace(msg, alert(err.message));
      }
      go.disabled = false;
    }},
    h('p', {class: 'hint'}, 'Sends again every event since a time that was not delivered here: failed, or missed while the endpoint was disabled.'),
    field('Since', since, 'In your local time.'), h('div', {class: 'actions start'}, go), msg));
}

async function recentCard(e, signal) {
  const live = h('span', {class: 'live', role: 'status'}, 'Connecting…');
  const list = attemptTable({showEndpoint: false});
  const holder = h('div');
  const card = h('section', {class: 'card'},
    h('div', {class: 'card-head'}, h('h2', {}, 'Recent attempts'), live),
    holder,
    h('p', {}, h('a', {href: `#/log?endpoint=${encodeURIComponent(e.id)}`}, 'See every attempt in the delivery log')));
  const nothing = empty('No attempts yet', 'Send a test event above: its delivery shows up here as it happens.');
  const load = async () => {
    const page = await request('GET', 'attempts', {query: scoped({endpoint: e.id, limit: 20}), signal});
    list.clear();
    for (const a of page.attempts || []) list.add(a);
    replace(holder, list.size ? list.el : nothing);
  };
  await load();
  watch({endpoint: e.id, signal,
    onAttempt: (a) => {
      if (!matches(a, {endpoint: e.id})) return;
      if (list.add(a, true)) replace(holder, list.el);
    },
    onState: (st) => {
      live.textContent = st === 'reconnecting' ? 'Reconnecting…' : 'Live';
      live.classList.toggle('on', st !== 'reconnecting');
      if (st === 'resumed') load().catch(() => {});
    }});
  return card;
}

// localInput formats d for a datetime-local input.
function localInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}
