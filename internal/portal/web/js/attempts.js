// Attempts: the table of delivery attempts (the delivery log's and an
// endpoint's recent ones) and the dialog that shows one in full, with
// resend.

import {h, replace, row, outcomeBadge, time, duration, pretty, alert, toast} from './dom.js';
import {request, scoped, session} from './api.js';

// attemptTable returns a table of attempts that new ones can be put on
// top of: {el, add(record, live), clear()}.
export function attemptTable({showEndpoint = true, endpoints = new Map()} = {}) {
  const columns = [
    {label: 'Time', cell: (a) => h('button', {type: 'button', class: 'link', 'aria-label': `View attempt ${a.attempt} of ${a.event_type || 'job'} at ${new Date(a.timestamp).toLocaleString()}`,
      onclick: () => openAttempt(a)}, time(a.timestamp))},
    {label: 'Event', cell: (a) => (a.event_type
      ? [h('code', {}, a.event_type), a.test ? [' ', h('span', {class: 'badge'}, 'test')] : null]
      : h('span', {class: 'muted'}, 'job'))},
    showEndpoint && {label: 'Endpoint', class: 'wide', cell: (a) => {
      const ep = a.endpoint && endpoints.get(a.endpoint);
      if (!ep || !ep.description) return h('span', {class: 'url'}, ep ? ep.url : a.url);
      return [h('div', {}, ep.description), h('div', {class: 'url muted small'}, ep.url)];
    }},
    showEndpoint && session.operator && !session.tenant && {label: 'Tenant', cell: (a) => a.tenant || h('span', {class: 'muted'}, 'None')},
    {label: 'Outcome', cell: (a) => outcomeBadge(a.outcome)},
    {label: 'Status', class: 'num', cell: (a) => (a.status === null || a.status === undefined ? '—' : String(a.status))},
    {label: 'Duration', class: 'num', cell: (a) => duration(a.duration_ms)},
    {label: 'Try', class: 'num', cell: (a) => String(a.attempt)},
  ].filter(Boolean);
  const body = h('tbody');
  const el = h('div', {class: 'table-wrap'}, h('table', {class: 'table attempts'},
    h('caption', {class: 'visually-hidden'}, 'Delivery attempts, newest first'),
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {scope: 'col', class: c.class}, c.label)))),
    body));
  const seen = new Set();
  return {
    el,
    // add puts a record on the table: on top when live, else at the end.
    // It reports whether it was new.
    add(a, live = false) {
      const k = `${a.job_id}/${a.attempt}`;
      if (seen.has(k)) return false;
      seen.add(k);
      const tr = row(columns, a);
      tr.dataset.event = a.event_id || '';
      if (live) {
        tr.classList.add('fresh');
        body.prepend(tr);
      } else {
        body.append(tr);
      }
      return true;
    },
    clear() {
      seen.clear();
      body.replaceChildren();
    },
    get size() { return seen.size; },
  };
}

// openAttempt shows an attempt in a dialog: what was sent (headers and
// payload), what came back (status and body, as text), how long it took;
// and a button that sends its event to its endpoint again.
export async function openAttempt(a) {
  const payload = h('pre', {class: 'code'}, a.payload !== undefined ? pretty(a.payload) : 'Loading…');
  const status = h('div');
  const resend = h('button', {type: 'button', class: 'primary', onclick: async () => {
    resend.disabled = true;
    try {
      const r = await request('POST', `events/${encodeURIComponent(a.event_id)}/resend`, {body: {endpoint: a.endpoint}});
      replace(status, h('p', {class: 'notice', role: 'status'}, `Sent again as job ${r.job_id}. Its attempt appears in the log as it happens.`));
      toast('Event sent again.');
    } catch (e) {
      replace(status, alert(e.message));
    }
    resend.disabled = false;
  }}, 'Resend');
  // A test event is not stored: it cannot be resent, but another can be
  // sent to the same endpoint.
  const again = h('button', {type: 'button', class: 'primary', onclick: async () => {
    again.disabled = true;
    try {
      const r = await request('POST', `endpoints/${encodeURIComponent(a.endpoint)}/test`, {body: {event_type: a.event_type}});
      replace(status, h('p', {class: 'notice', role: 'status'}, `Test event ${r.event_id} sent as job ${r.job_id}. Its attempt appears in the log as it happens.`));
      toast('Test event sent.');
    } catch (e) {
      replace(status, alert(e.message));
    }
    again.disabled = false;
  }}, 'Send another test event');
  let action = null;
  if (a.test && a.endpoint && a.event_type) action = again;
  else if (!a.test && a.event_id && a.endpoint) action = resend;
  const close = h('button', {type: 'button', class: 'secondary', onclick: () => dlg.close()}, 'Close');
  const headers = Object.entries(a.request_headers || {}).sort(([x], [y]) => x.localeCompare(y));
  const title = `Attempt ${a.attempt}${a.event_type ? ` · ${a.event_type}` : ''}${a.test ? ' · test' : ''}`;
  const response = a.response === null || a.response === undefined ? null : pretty(a.response);
  const dlg = h('dialog', {class: 'dialog wide attempt-dialog', 'aria-label': title},
    h('div', {class: 'dialog-head'}, h('h2', {tabindex: '-1'}, title), outcomeBadge(a.outcome)),
    h('dl', {class: 'facts'},
      fact('When', time(a.timestamp)),
      fact('Status', a.status === null || a.status === undefined ? 'No response' : String(a.status)),
      fact('Duration', duration(a.duration_ms)),
      fact('URL', h('span', {class: 'url'}, a.url)),
      a.endpoint && fact('Endpoint', h('a', {href: `#/endpoints/${encodeURIComponent(a.endpoint)}`, onclick: () => dlg.close()}, a.endpoint)),
      a.event_id && fact('Event ID', h('code', {}, a.event_id)),
      fact('Job ID', h('code', {}, a.job_id)),
      a.error && fact('Error', h('span', {class: 'error-text'}, a.error))),
    h('h3', {}, 'Response body'),
    response === null ? h('p', {class: 'muted'}, 'No body.') : h('pre', {class: 'code response'}, response),
    h('h3', {}, 'Request headers'),
    headers.length
      ? h('div', {class: 'table-wrap'}, h('table', {class: 'table compact'},
        h('thead', {}, h('tr', {}, h('th', {scope: 'col'}, 'Header'), h('th', {scope: 'col'}, 'Value'))),
        h('tbody', {}, headers.map(([k, v]) => h('tr', {}, h('td', {'data-label': 'Header'}, h('code', {}, k)), h('td', {'data-label': 'Value', class: 'break'}, v))))))
      : h('p', {class: 'muted'}, 'None recorded.'),
    h('h3', {}, 'Payload'),
    payload,
    status,
    h('div', {class: 'actions sticky'}, close, action));
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  dlg.querySelector('h2').focus();
  if (a.test) {
    payload.textContent = 'Not kept: test events are not stored.';
  } else if (a.payload === undefined && a.event_id) {
    // A live record comes without its event's payload; the log has it.
    try {
      const page = await request('GET', 'attempts', {query: scoped({event_id: a.event_id, endpoint: a.endpoint || '', limit: 1})});
      const found = (page.attempts || [])[0];
      payload.textContent = found && found.payload !== undefined ? pretty(found.payload) : 'Not kept.';
    } catch (e) {
      payload.textContent = `Could not load the payload: ${e.message}`;
    }
  } else if (a.payload === undefined) {
    payload.textContent = 'Not kept.';
  }
}

function fact(label, value) {
  return [h('dt', {}, label), h('dd', {}, value)];
}

// matches reports whether a live record belongs in a listing with filters.
export function matches(a, f) {
  if (f.endpoint && a.endpoint !== f.endpoint) return false;
  if (f.event_type && a.event_type !== f.event_type) return false;
  if (f.outcome && a.outcome !== f.outcome) return false;
  if (f.tenant && a.tenant !== f.tenant) return false;
  if (f.before && new Date(a.timestamp) >= new Date(f.before)) return false;
  return true;
}
