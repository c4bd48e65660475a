// The endpoints page: every endpoint of the tenant with its state and its
// success rate over the last 24 hours.

import {h, replace, table, empty} from './dom.js';
import {request, all, scoped, session} from './api.js';

export async function endpointsPage({view, signal}) {
  const list = h('div', {}, h('p', {class: 'muted'}, 'Loading endpoints…'));
  replace(view,
    h('div', {class: 'page-head'},
      h('div', {}, h('h1', {}, 'Endpoints'),
        h('p', {class: 'lede'}, 'The URLs your events are sent to, each signed with its own secret.')),
      h('a', {href: '#/endpoints/new', class: 'button primary'}, 'Add endpoint')),
    list);
  const endpoints = await all('endpoints', 'endpoints', scoped({limit: 100}));
  if (endpoints.length === 0) {
    replace(list, empty('No endpoints yet',
      'Add the URL of a server of yours that should receive events. You can test it from its page right after.',
      h('a', {href: '#/endpoints/new', class: 'button primary'}, 'Add your first endpoint')));
    return;
  }
  const rates = new Map(endpoints.map((e) => [e.id, h('span', {class: 'muted'}, '…')]));
  const columns = [
    {label: 'Endpoint', class: 'wide', cell: (e) => [
      h('a', {href: `#/endpoints/${encodeURIComponent(e.id)}`, class: 'url'}, e.url),
      e.description && h('div', {class: 'muted small'}, e.description)]},
    {label: 'Events', cell: (e) => (e.event_types && e.event_types.length ? e.event_types.join(', ') : h('span', {class: 'muted'}, 'All types'))},
    {label: 'State', cell: (e) => state(e)},
    {label: 'Success, 24 h', class: 'num', cell: (e) => rates.get(e.id)},
  ];
  if (session.operator && !session.tenant) {
    columns.splice(1, 0, {label: 'Tenant', cell: (e) => e.tenant || h('span', {class: 'muted'}, 'None')});
  }
  replace(list, table(columns, endpoints, 'Endpoints'));
  // The rates come one endpoint at a time, four at once.
  const queue = [...endpoints];
  const worker = async () => {
    for (let e = queue.shift(); e && !signal.aborted; e = queue.shift()) {
      try {
        const st = await request('GET', `endpoints/${encodeURIComponent(e.id)}/stats`, {signal});
        replace(rates.get(e.id), successRate(st.total));
      } catch {
        replace(rates.get(e.id), 'unknown');
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

// state is an endpoint's state badge: enabled, or disabled and why.
export function state(e) {
  if (!e.disabled) return h('span', {class: 'badge ok'}, 'Enabled');
  return h('span', {}, h('span', {class: 'badge bad'}, 'Disabled'),
    e.disabled_reason && h('div', {class: 'muted small'}, e.disabled_reason));
}

// successRate is the share of attempts delivered, in words.
export function successRate(total) {
  const n = total.delivered + total.retry + total.failed;
  if (n === 0) return h('span', {class: 'muted'}, 'No deliveries');
  const pct = Math.floor((total.delivered / n) * 1000) / 10;
  const cls = pct >= 99 ? 'ok' : pct >= 90 ? 'warn' : 'bad';
  return h('span', {title: `${total.delivered} of ${n} attempts delivered`},
    h('span', {class: `rate ${cls}`}, `${pct} %`), h('span', {class: 'muted small'}, ` ${total.delivered} of ${n}`));
}
