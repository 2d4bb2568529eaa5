// The editor's one way to talk to the server: same-origin fetch with the
// page's CSRF token on every write, JSON asked for, and the answer's body
// read whatever the status (an error body is JSON too: {"error": {...}}).
// Every module uses it; nothing else calls fetch.

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : '';
}

// request sends a request and returns the Response (it throws only when
// the network fails). opts.json is sent as JSON, opts.form (an object or
// URLSearchParams) as a form; opts.body as is.
export function request(url, opts = {}) {
  const method = (opts.method || (opts.json !== undefined || opts.form !== undefined ? 'POST' : 'GET')).toUpperCase();
  const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
  let body = opts.body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = typeof opts.json === 'string' ? opts.json : JSON.stringify(opts.json);
  } else if (opts.form !== undefined) {
    headers['Content-Type'] = 'application/x-www-form-urlencoded';
    body = (opts.form instanceof URLSearchParams ? opts.form : new URLSearchParams(opts.form)).toString();
  }
  if (method !== 'GET' && method !== 'HEAD') {
    headers['X-CSRF-Token'] = csrfToken();
  }
  return fetch(url, { method: method, headers: headers, body: body, credentials: 'same-origin', signal: opts.signal });
}

// readJSON is the response's JSON body, or {} when it has none.
export async function readJSON(res) {
  try {
    return await res.json();
  } catch (err) {
    return {};
  }
}

// errorMessage is the message of an error body, or fallback.
export function errorMessage(body, fallback) {
  return (body && body.error && body.error.message) || fallback;
}

// getJSON / postJSON / postForm resolve to the answer's body and reject
// with an Error carrying the server's message when it is not 2xx.
export async function getJSON(url, fallback) {
  return checked(await request(url), fallback);
}

export async function postJSON(url, value, fallback) {
  return checked(await request(url, { json: value }), fallback);
}

export async function postForm(url, form, fallback) {
  return checked(await request(url, { form: form }), fallback);
}

async function checked(res, fallback) {
  const body = await readJSON(res);
  if (!res.ok) {
    const err = new Error(errorMessage(body, fallback || 'error ' + res.status));
    err.status = res.status;
    err.body = body;
    throw err;
  }
  return body;
}
