// The portal's one door to hookworker: the HTTP API, with the signed-in
// credential as a Bearer header. The credential never goes in a URL: it
// is kept in sessionStorage (this tab only, gone when it closes) and sent
// in the Authorization header of each request, the attempt stream's too,
// which is why the stream is read with fetch and not EventSource (which
// cannot send headers).

const STORE = 'hookworker.portal.credential';
const SCOPE = 'hookworker.portal.tenant';

// The API is beside the portal: <prefix>/portal/ → <prefix>/api/v1/.
const base = new URL('../api/v1/', document.baseURI);

// ApiError is an error reply, or a failure to reach the API, in words.
export class ApiError extends Error {
  constructor(status, message, field, violations) {
    super(message);
    this.status = status;
    this.field = field || '';
    this.violations = violations || [];
  }
}

// session is who is signed in: the credential, and, once checked, whether
// it is an operator key or a tenant's token (and which tenant).
export const session = {
  credential: sessionStorage.getItem(STORE) || '',
  operator: false,
  tenant: '', // the token's tenant; for the operator, the picked one ('' for all)
  expires: null, // a token's expiry, a Date
  checked: false, // whoami accepted the credential: a 401 now means it has ended
  onExpired: () => {},
};

export function signIn(credential) {
  session.credential = credential.trim();
  sessionStorage.setItem(STORE, session.credential);
}

export function signOut() {
  session.credential = '';
  session.operator = false;
  session.tenant = '';
  session.expires = null;
  session.checked = false;
  sessionStorage.removeItem(STORE);
  sessionStorage.removeItem(SCOPE);
}

// pickTenant sets the tenant an operator works on ('' for every one).
export function pickTenant(id) {
  session.tenant = id;
  sessionStorage.setItem(SCOPE, id);
}

// whoami checks the credential: a tenant token is a JWT whose subject is
// the tenant; the operator may list tenants, a tenant may not (403).
export async function whoami() {
  const claims = jwtClaims(session.credential);
  session.checked = false;
  try {
    await request('GET', 'tenants', {query: {limit: 1}});
    session.operator = true;
    session.tenant = sessionStorage.getItem(SCOPE) || '';
    session.expires = null;
  } catch (e) {
    if (e.status !== 403 || !claims) throw e;
    session.operator = false;
    session.tenant = String(claims.sub || '');
    session.expires = claims.exp ? new Date(claims.exp * 1000) : null;
  }
  session.checked = true;
}

// jwtClaims reads a JWT's claims for display; the API verifies it.
function jwtClaims(token) {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)));
  } catch {
    return null;
  }
}

// scoped adds the operator's picked tenant to a listing's query; a
// tenant's token is scoped by the API itself.
export function scoped(query = {}) {
  return session.operator && session.tenant ? {...query, tenant: session.tenant} : query;
}

function url(path, query) {
  const u = new URL(path, base);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
  }
  return u;
}

function headers(extra) {
  return {Authorization: `Bearer ${session.credential}`, ...extra};
}

const unreachable = 'Could not reach the hookworker API. Check that the worker is running and your connection, then try again.';

// request calls the API and returns its JSON reply; an error reply is an
// ApiError with the API's message.
export async function request(method, path, {query, body, signal} = {}) {
  let res;
  try {
    res = await fetch(url(path, query), {
      method,
      headers: headers(body !== undefined ? {'Content-Type': 'application/json'} : {}),
      body: body !== undefined ? JSON.stringify(body) : undefined,
      cache: 'no-store',
      credentials: 'omit',
      signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, unreachable);
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data && data.error) || {};
    const e = new ApiError(res.status, sentence(err.message || `The API answered ${res.status} ${res.statusText}.`), err.field, err.violations);
    if (res.status === 401 && session.checked) session.onExpired(e);
    throw e;
  }
  return data;
}

// all follows a listing's iterator and returns every item under key, up
// to max pages.
export async function all(path, key, query = {}, max = 20) {
  const items = [];
  let iterator = '';
  for (let i = 0; i < max; i++) {
    const page = await request('GET', path, {query: {...query, iterator}});
    items.push(...(page[key] || []));
    if (page.done || !page.iterator) break;
    iterator = page.iterator;
  }
  return items;
}

// sentence ends msg with a full stop and starts it with a capital, unless
// it starts with a field's name ("url: must be…"), which stays as named.
function sentence(msg) {
  const m = String(msg);
  const start = /^[a-z_][a-z0-9_.[\]]*:/.test(m) ? m : m.charAt(0).toUpperCase() + m.slice(1);
  return start + (/[.!?]$/.test(m) ? '' : '.');
}

// watch reads GET /attempts/stream (Server-Sent Events) with the Bearer
// header and calls onAttempt with each record; onState hears 'live',
// 'reconnecting' and, after a gap, 'resumed' (the caller may reload what
// it missed). It reconnects, backing off, until signal aborts.
export async function watch({endpoint, signal, onAttempt, onState}) {
  let wait = 500;
  let connected = false;
  while (!signal.aborted) {
    try {
      const res = await fetch(url('attempts/stream', {endpoint}), {
        headers: headers({Accept: 'text/event-stream'}), cache: 'no-store', credentials: 'omit', signal,
      });
      if (res.status === 401) {
        if (session.checked) session.onExpired(new ApiError(401, 'Your session has ended.'));
        return;
      }
      if (!res.ok || !res.body) throw new ApiError(res.status, 'The live view could not connect.');
      onState(connected ? 'resumed' : 'live');
      connected = true;
      wait = 500;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buf += value.replace(/\r\n?/g, '\n');
        let end;
        while ((end = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          dispatch(frame, onAttempt);
        }
      }
    } catch (e) {
      if (signal.aborted) return;
    }
    onState('reconnecting');
    await new Promise((r) => {
      const t = setTimeout(r, wait);
      signal.addEventListener('abort', () => { clearTimeout(t); r(); }, {once: true});
    });
    wait = Math.min(wait * 2, 15000);
  }
}

// dispatch handles one event of the stream: "event: attempt" and its
// data, a record's JSON; comments (heartbeats) and other events are
// skipped.
function dispatch(frame, onAttempt) {
  let event = 'message';
  const data = [];
  for (const line of frame.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const name = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (name === 'event') event = value;
    else if (name === 'data') data.push(value);
  }
  if (event !== 'attempt' || data.length === 0) return;
  try {
    onAttempt(JSON.parse(data.join('\n')));
  } catch {
    // a record that does not parse is skipped
  }
}
