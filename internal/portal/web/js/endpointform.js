// Adding and changing an endpoint: its URL, description, event types
// picked from the catalog, channels, headers and its delivery policy.

import {h, replace, field, alert, toast, credentialHeader} from './dom.js';
import {request, all, session} from './api.js';

export async function endpointForm({view}, id) {
  const [ep, types] = await Promise.all([
    id ? request('GET', `endpoints/${encodeURIComponent(id)}`) : null,
    all('event-types', 'event_types'),
  ]);
  const e = ep || {};
  const back = id ? `#/endpoints/${encodeURIComponent(id)}` : '#/endpoints';

  const url = h('input', {type: 'url', name: 'url', required: true, value: e.url || '', placeholder: 'https://example.com/webhooks', autocomplete: 'off'});
  const description = h('input', {type: 'text', name: 'description', value: e.description || '', maxlength: 1024});
  const chosen = new Set(e.event_types || []);
  const known = new Set(types.map((t) => t.name));
  const boxes = types.filter((t) => !t.archived || chosen.has(t.name)).map((t) => {
    const box = h('input', {type: 'checkbox', name: 'event_types', value: t.name, checked: chosen.has(t.name)});
    box.id = `type-${t.name}`;
    return h('div', {class: 'check'}, box, h('label', {for: box.id}, h('code', {}, t.name),
      t.description && h('span', {class: 'muted small'}, ` — ${t.description}`)));
  });
  // A type the endpoint names that the catalog does not have stays, so
  // that saving does not drop it.
  for (const name of chosen) {
    if (known.has(name)) continue;
    const box = h('input', {type: 'checkbox', name: 'event_types', value: name, checked: true, id: `type-${name}`});
    boxes.push(h('div', {class: 'check'}, box, h('label', {for: box.id}, h('code', {}, name), h('span', {class: 'muted small'}, ' (not in the catalog)'))));
  }
  const channels = h('input', {type: 'text', name: 'channels', value: (e.channels || []).join(', '), autocomplete: 'off'});

  const headerRows = h('div', {class: 'headers'});
  const addHeader = (name = '', value = '') => {
    const n = h('input', {type: 'text', name: 'header_name', value: name, autocomplete: 'off', placeholder: 'X-Example'});
    // A credential's value is a password field: shown when typed, not when
    // the form is looked at.
    const v = h('input', {type: credentialHeader(name) ? 'password' : 'text', name: 'header_value', value,
      autocomplete: credentialHeader(name) ? 'new-password' : 'off'});
    const rowEl = h('div', {class: 'header-row'},
      field('Header name', n), field('Value', v),
      h('button', {type: 'button', class: 'secondary small', onclick: () => rowEl.remove(), 'aria-label': 'Remove this header'}, 'Remove'));
    headerRows.append(rowEl);
    return n;
  };
  for (const [k, v] of Object.entries(e.headers || {})) addHeader(k, v);

  const rateLimit = h('input', {type: 'number', name: 'rate_limit', min: 0, step: 1, inputmode: 'numeric', value: e.rate_limit || ''});
  const ordered = h('input', {type: 'checkbox', name: 'ordered', id: 'ordered', checked: !!e.ordered});
  const schedule = h('input', {type: 'text', name: 'retry_schedule', value: (e.retry_schedule || []).join(', '), placeholder: '5s, 5m, 30m, 2h', autocomplete: 'off'});
  const timeout = h('input', {type: 'text', name: 'timeout', value: e.timeout && e.timeout !== '0s' ? e.timeout : '', placeholder: '10s', autocomplete: 'off'});
  const auth = e.auth || {};
  const authType = h('select', {name: 'auth_type'},
    h('option', {value: ''}, 'None: the signature only'),
    h('option', {value: 'mtls', selected: auth.type === 'mtls'}, 'Client certificate (mTLS)'),
    h('option', {value: 'oauth2', selected: auth.type === 'oauth2'}, 'OAuth 2 client credentials'));
  const cert = h('textarea', {name: 'cert', rows: 4, spellcheck: 'false'}, auth.cert || '');
  const key = h('textarea', {name: 'key', rows: 4, spellcheck: 'false', placeholder: auth.type === 'mtls' ? 'Kept; paste a new key to replace it' : ''});
  const tokenURL = h('input', {type: 'url', name: 'token_url', value: auth.token_url || '', autocomplete: 'off'});
  const clientID = h('input', {type: 'text', name: 'client_id', value: auth.client_id || '', autocomplete: 'off'});
  const clientSecret = h('input', {type: 'password', name: 'client_secret', autocomplete: 'new-password', placeholder: auth.type === 'oauth2' ? 'Kept; type a new one to replace it' : ''});
  const scopes = h('input', {type: 'text', name: 'scopes', value: (auth.scopes || []).join(' '), autocomplete: 'off'});
  const mtls = h('div', {class: 'sub'}, field('Certificate (PEM)', cert), field('Private key (PEM)', key, 'Write-only: it is never shown again.'));
  const oauth = h('div', {class: 'sub'}, field('Token URL', tokenURL), field('Client ID', clientID),
    field('Client secret', clientSecret, 'Write-only: it is never shown again.'), field('Scopes', scopes, 'Space-separated; may be empty.'));
  const showAuth = () => { mtls.hidden = authType.value !== 'mtls'; oauth.hidden = authType.value !== 'oauth2'; };
  authType.addEventListener('change', showAuth);
  showAuth();

  const error = h('div');
  const submit = h('button', {type: 'submit', class: 'primary'}, id ? 'Save changes' : 'Create endpoint');
  const policyOpen = !!(e.rate_limit || e.ordered || (e.retry_schedule || []).length || (e.timeout && e.timeout !== '0s') || e.auth);

  const form = h('form', {class: 'form', novalidate: true, onsubmit: async (ev) => {
    ev.preventDefault();
    replace(error);
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const body = {
      url: url.value.trim(),
      description: description.value.trim(),
      event_types: [...form.querySelectorAll('input[name=event_types]:checked')].map((b) => b.value),
      channels: split(channels.value, /[,\s]+/),
      headers: {},
      rate_limit: Number(rateLimit.value || 0),
      ordered: ordered.checked,
      retry_schedule: split(schedule.value, /[,\s]+/),
      timeout: timeout.value.trim() || '0s',
      auth: null,
    };
    for (const r of headerRows.querySelectorAll('.header-row')) {
      const [n, v] = r.querySelectorAll('input');
      if (n.value.trim()) body.headers[n.value.trim()] = v.value;
    }
    if (authType.value === 'mtls') {
      body.auth = {type: 'mtls', cert: cert.value.trim()};
      if (key.value.trim()) body.auth.key = key.value.trim();
    } else if (authType.value === 'oauth2') {
      body.auth = {type: 'oauth2', token_url: tokenURL.value.trim(), client_id: clientID.value.trim(), scopes: split(scopes.value, /\s+/)};
      if (clientSecret.value) body.auth.client_secret = clientSecret.value;
    }
    if (!body.url) {
      fail({message: 'Enter the URL your events should be sent to.', field: 'url'});
      return;
    }
    if (!id) {
      // Fields left at their zero value are left out of a new endpoint.
      for (const k of ['rate_limit', 'ordered', 'auth']) if (!body[k]) delete body[k];
      if (body.timeout === '0s') delete body.timeout;
      if (!body.retry_schedule.length) delete body.retry_schedule;
      if (session.operator && session.tenant) body.tenant = session.tenant;
    }
    submit.disabled = true;
    try {
      const saved = id
        ? await request('PATCH', `endpoints/${encodeURIComponent(id)}`, {body})
        : await request('POST', 'endpoints', {body});
      toast(id ? 'Endpoint saved.' : 'Endpoint created. Its signing secret is on this page.');
      location.hash = `#/endpoints/${encodeURIComponent(saved.id)}`;
    } catch (err) {
      fail(err);
      submit.disabled = false;
    }
  }},
  error,
  h('fieldset', {}, h('legend', {}, 'Endpoint'),
    field('URL', url, 'Where events are posted, over https (or http for a local server).'),
    field('Description', description, 'Optional: what this endpoint is for.')),
  h('fieldset', {}, h('legend', {}, 'Events'),
    h('p', {class: 'hint'}, 'Pick the event types to send; pick none to receive every type.'),
    boxes.length ? h('div', {class: 'checks'}, boxes) : h('p', {class: 'muted'}, 'The catalog has no event types yet, so this endpoint receives every event.'),
    field('Channels', channels, 'Comma-separated; leave empty to receive events of every channel.')),
  h('fieldset', {}, h('legend', {}, 'Headers'),
    h('p', {class: 'hint'}, 'Extra headers sent with every request to this endpoint.'),
    headerRows,
    h('button', {type: 'button', class: 'secondary small', onclick: () => addHeader().focus()}, 'Add header')),
  h('details', {class: 'fieldset', open: policyOpen},
    h('summary', {}, 'Delivery policy'),
    field('Rate limit (requests per second)', rateLimit, 'At most this many requests a second reach this endpoint; empty or 0 for no limit.'),
    h('div', {class: 'check'}, ordered, h('label', {for: 'ordered'}, 'Deliver in order: each event waits until the one before it has been delivered or has failed')),
    field('Retry schedule', schedule, 'The waits before each retry, such as 5s, 5m, 30m; empty for the default.'),
    field('Timeout per attempt', timeout, 'Such as 10s; empty for the default.'),
    field('Authentication to your server', authType),
    mtls, oauth),
  h('div', {class: 'actions'}, h('a', {href: back, class: 'button secondary'}, 'Cancel'), submit));

  function fail(err) {
    const target = err.field && form.querySelector(`[name="${CSS.escape(err.field.split(/[.[]/)[0])}"]`);
    // The API names the field as the JSON does; say it as the form does.
    const label = target && target.labels && target.labels[0] ? target.labels[0].textContent : '';
    const prefix = `${err.field}: `;
    replace(error, alert(label && err.message.startsWith(prefix) ? `${label}: ${err.message.slice(prefix.length)}` : err.message));
    if (target) {
      target.setAttribute('aria-invalid', 'true');
      target.focus();
    } else {
      error.scrollIntoView({block: 'center'});
    }
  }

  replace(view,
    h('p', {class: 'crumbs'}, h('a', {href: back}, id ? '← Back to the endpoint' : '← Endpoints')),
    h('h1', {}, id ? 'Edit endpoint' : 'Add an endpoint'),
    form);
  if (!id) url.focus();
}

function split(text, sep) {
  return text.split(sep).map((x) => x.trim()).filter(Boolean);
}
