// The event catalog: each event type an endpoint can receive, with its
// description, its payload's schema and an example payload.

import {h, replace, empty, pretty, table} from './dom.js';
import {all} from './api.js';

export async function catalogPage({view}) {
  const types = (await all('event-types', 'event_types')).filter((t) => !t.archived);
  const head = [h('h1', {}, 'Event catalog'),
    h('p', {class: 'lede'}, 'The events your endpoints can receive. Pick them when you add or edit an endpoint.')];
  if (types.length === 0) {
    replace(view, head, empty('No event types yet',
      'Event types are defined by the service that sends you events. Until there are some, an endpoint receives every event.'));
    return;
  }
  const index = h('nav', {class: 'toc', 'aria-label': 'Event types'},
    h('ul', {}, types.map((t) => h('li', {}, h('button', {type: 'button', class: 'link', onclick: () => {
      const el = document.getElementById(`type-${t.name}`);
      el.scrollIntoView({block: 'start'});
      el.querySelector('h2').focus();
    }}, t.name)))));
  replace(view, head, index, types.map(card));
}

function card(t) {
  const example = exampleOf(t.schema);
  const fields = fieldsOf(t.schema);
  const hasSchema = t.schema !== null && t.schema !== undefined;
  return h('article', {class: 'card type', id: `type-${t.name}`},
    h('h2', {tabindex: '-1'}, h('code', {}, t.name)),
    h('p', {}, t.description || h('span', {class: 'muted'}, 'No description.')),
    h('div', {class: 'grid'},
      h('section', {}, h('h3', {}, 'Fields'),
        fields.length
          ? table([
            {label: 'Field', cell: (f) => h('code', {}, f.name)},
            {label: 'Type', cell: (f) => f.type},
            {label: 'Required', cell: (f) => (f.required ? 'Yes' : 'No')},
            {label: 'About', cell: (f) => f.description || h('span', {class: 'muted'}, '—')},
          ], fields, `The fields of ${t.name}`)
          : h('p', {class: 'muted'}, hasSchema ? 'The schema names no fields.' : 'Any JSON payload: the type has no schema.')),
      h('section', {}, h('h3', {}, 'Example payload'),
        example === undefined ? h('p', {class: 'muted'}, 'The schema gives no example.') : h('pre', {class: 'code'}, pretty(example)))),
    hasSchema && h('details', {class: 'schema'}, h('summary', {}, 'JSON Schema'), h('pre', {class: 'code'}, pretty(t.schema))));
}

// fieldsOf lists the top-level properties of an object schema.
function fieldsOf(schema) {
  if (!schema || typeof schema !== 'object' || !schema.properties || typeof schema.properties !== 'object') return [];
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  return Object.entries(schema.properties).map(([name, p]) => ({
    name,
    type: p && p.type ? [].concat(p.type).join(' or ') : 'any',
    required: required.has(name),
    description: p && typeof p.description === 'string' ? p.description : '',
  }));
}

// exampleOf returns the schema's first example, as a test event sends it.
function exampleOf(schema) {
  if (schema && Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  return undefined;
}
