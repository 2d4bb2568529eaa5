// The editor's one way to talk to the server: same-origin fetch with the
// page's CSRF token on every write, JSON asked for, and the answer's body
// read whatever the status (an error body is JSON too: {"error": {...}}).
// Every module uses it; nothing else calls fetch.
//
// When the session has ended (it timed out, or was signed out elsewhere)
// the server answers 401 {"error": {"code": "signed_out"}, "csrf_token"}.
// request then asks for the password in a dialog (POST /reauth, which
// answers with the new session's CSRF token) and sends the request again,
// so nothing on the page is lost; htmx's requests (the panels) are sent
// again the same way (watchHtmx). A page holding an earlier session's
// token gets 403 "csrf_stale" with the current one, takes it and retries.

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : '';
}

// setCsrfToken puts a new session's token where every request and form
// of the page reads it (app.js adds the meta's to htmx's requests).
export function setCsrfToken(tok) {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta) {
    meta.content = tok;
  }
  document.querySelectorAll('input[name="_csrf"]').forEach((i) => {
    i.value = tok;
  });
}

function errorCode(body) {
  return (body && body.error && body.error.code) || '';
}

// request sends a request and returns the Response (it throws only when
// the network fails). opts.json is sent as JSON, opts.form (an object or
// URLSearchParams) as a form; opts.body as is. A request met by
// "signed_out" waits for the user to sign in again and is sent again.
export async function request(url, opts = {}) {
  for (let attempt = 0; ; attempt++) {
    const res = await send(url, opts);
    if (attempt >= 3 || (res.status !== 401 && res.status !== 403)) {
      return res;
    }
    const body = await readJSON(res.clone());
    if (res.status === 401 && errorCode(body) === 'signed_out') {
      await signIn(body.csrf_token);
    } else if (res.status === 403 && errorCode(body) === 'csrf_stale' && body.csrf_token) {
      setCsrfToken(body.csrf_token);
    } else {
      return res;
    }
  }
}

function send(url, opts) {
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

// ------------------------------------------------------- signing in again

let signInWait = null; // the open dialog's promise, shared by every request
let dialogToken = '';

// signedOut reports whether the page is waiting for the user to sign in.
export function signedOut() {
  return signInWait !== null;
}

// signIn opens the "You were signed out" dialog (once, however many
// requests met the answer) and resolves when the user has signed in
// again. The page says so with the events waymark:signed-out and
// waymark:signed-in on document.
export function signIn(token) {
  if (token) {
    dialogToken = token;
  }
  if (!signInWait) {
    signInWait = new Promise((resolve) => openSignIn(resolve));
    document.dispatchEvent(new CustomEvent('waymark:signed-out'));
  }
  return signInWait;
}

function pageEmail() {
  const el = document.querySelector('[data-testid="current-user"]');
  return el ? el.textContent.trim() : '';
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    e.setAttribute(k, v);
  }
  if (text) {
    e.textContent = text;
  }
  return e;
}

function signInDialog() {
  let dlg = document.getElementById('signin-dialog');
  if (dlg) {
    return dlg;
  }
  dlg = el('dialog', { id: 'signin-dialog', class: 'dialog', 'aria-labelledby': 'signin-title', 'aria-describedby': 'signin-why', 'data-testid': 'signin-dialog' });
  const form = el('form', { 'data-testid': 'signin-form', novalidate: '' });
  const email = pageEmail();
  const emailField = el('div', { class: 'field' });
  emailField.append(el('label', { for: 'signin-email' }, 'Email'),
    el('input', { id: 'signin-email', name: 'email', type: 'email', autocomplete: 'username', required: '' }));
  const pwField = el('div', { class: 'field' });
  pwField.append(el('label', { for: 'signin-password' }, 'Password'),
    el('input', { id: 'signin-password', name: 'password', type: 'password', autocomplete: 'current-password', required: '', 'data-testid': 'signin-password' }));
  const err = el('p', { class: 'form-error', role: 'alert', 'data-testid': 'signin-error' });
  err.hidden = true;
  const actions = el('div', { class: 'dialog-actions' });
  const away = el('a', { href: '/login?next=' + encodeURIComponent(location.pathname), 'data-testid': 'signin-page' }, 'Go to the sign-in page');
  const submit = el('button', { type: 'submit', class: 'primary', 'data-testid': 'signin-submit' }, 'Sign in and go on');
  actions.append(away, submit);
  form.append(emailField, pwField, err, actions);
  dlg.append(
    el('h2', { id: 'signin-title' }, 'You were signed out'),
    el('p', { id: 'signin-why' }, 'Your session ended: it timed out, or you were signed out elsewhere. Sign in again to go on. Nothing on this page is lost; your changes are saved as soon as you are back.'),
    form);
  const emailInput = emailField.querySelector('input');
  if (email) {
    emailInput.value = email;
    emailInput.readOnly = true; // this page's work is this person's
  }
  // Escape would leave the page unable to save without saying why.
  dlg.addEventListener('cancel', (e) => e.preventDefault());
  document.body.append(dlg);
  return dlg;
}

function openSignIn(resolve) {
  const dlg = signInDialog();
  const form = dlg.querySelector('form');
  const err = dlg.querySelector('[data-testid="signin-error"]');
  const pw = dlg.querySelector('#signin-password');
  const submit = dlg.querySelector('[data-testid="signin-submit"]');
  const fail = (msg) => {
    err.textContent = msg;
    err.hidden = false;
    submit.disabled = false;
    pw.focus();
  };
  const done = (tok) => {
    setCsrfToken(tok);
    form.onsubmit = null;
    pw.value = '';
    err.hidden = true;
    submit.disabled = false;
    dlg.close();
    signInWait = null;
    document.dispatchEvent(new CustomEvent('waymark:signed-in'));
    resolve();
  };
  form.onsubmit = async (e) => {
    e.preventDefault();
    if (!pw.value) {
      fail('Enter your password.');
      return;
    }
    submit.disabled = true;
    err.hidden = true;
    let res;
    let out = {};
    try {
      res = await fetch('/reauth', {
        method: 'POST',
        credentials: 'same-origin',
        headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded', 'X-CSRF-Token': dialogToken },
        body: new URLSearchParams({ email: dlg.querySelector('#signin-email').value, password: pw.value, expect: pageEmail() }).toString(),
      });
      out = await readJSON(res);
    } catch (ex) {
      fail('Waymark cannot be reached. Check your connection and try again.');
      return;
    }
    if (res.ok && out.csrf_token) {
      done(out.csrf_token);
    } else if (res.status === 403 && errorCode(out) === 'csrf_stale' && out.csrf_token) {
      done(out.csrf_token); // signed in again in another tab meanwhile
    } else if (res.status === 429) {
      fail(errorMessage(out, 'Too many failed sign-ins. Try again later.'));
    } else {
      fail(errorMessage(out, 'The sign-in failed (' + res.status + '). Try again.'));
    }
  };
  err.hidden = true;
  if (!dlg.open) {
    dlg.showModal();
  }
  pw.focus();
}

// watchHtmx sends htmx's requests (the panels' forms) again after the
// user signs in, or with the current token, instead of dropping them:
// a panel form is submitted again with what is in it now, other requests
// are repeated as they were.
export function watchHtmx() {
  document.body.addEventListener('htmx:beforeSwap', (ev) => {
    const d = ev.detail;
    const xhr = d.xhr;
    if (!xhr || (xhr.status !== 401 && xhr.status !== 403)) {
      return;
    }
    let body = null;
    try {
      body = JSON.parse(xhr.responseText);
    } catch (e) {
      return; // an HTML page: not ours to handle
    }
    let wait;
    if (xhr.status === 401 && errorCode(body) === 'signed_out') {
      wait = signIn(body.csrf_token);
    } else if (xhr.status === 403 && errorCode(body) === 'csrf_stale' && body.csrf_token) {
      setCsrfToken(body.csrf_token);
      wait = Promise.resolve();
    } else {
      return;
    }
    d.shouldSwap = false;
    d.isError = false; // handled here: no "could not do that" toast
    const cfg = d.requestConfig || {};
    const target = d.target;
    const swap = d.etc && d.etc.swapOverride;
    wait.then(() => {
      const elt = cfg.elt;
      if (elt && elt.tagName === 'FORM' && elt.isConnected) {
        htmx.trigger(elt, 'submit');
        return;
      }
      if (!cfg.verb || !cfg.path || (target && !target.isConnected)) {
        return;
      }
      const values = {};
      if (cfg.formData) {
        for (const [k, v] of cfg.formData.entries()) {
          values[k] = v;
        }
      }
      const opts = { values: values };
      if (target) {
        opts.target = target;
      }
      if (swap) {
        opts.swap = swap;
      }
      if (elt && elt !== document.body && elt.isConnected) {
        opts.source = elt;
      }
      htmx.ajax(cfg.verb.toUpperCase(), cfg.path, opts);
    });
  });
}
