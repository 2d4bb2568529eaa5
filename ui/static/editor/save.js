// Autosave: every change marks the journey dirty and is saved (POST
// /journeys/{id}/draft with the revision it was based on) shortly after;
// the bar says "Unsaved changes", "Saving…", "Saved at hh:mm" or why it
// was not saved. A conflict (someone else saved) stops autosave and opens
// the conflict dialog. Leaving with unsaved changes asks first.
//
// Text typed into a panel's field is unsaved too until the panel has
// applied it (on change: Tab, Enter, leaving the field): until then the
// bar says "Unsaved changes" and leaving the page asks. When the session
// has ended, the save waits while api.js asks the user to sign in again
// (the bar says "Not saved: you were signed out") and then goes through.

import { $, $$ } from './dom.js';
import { request, readJSON, watchHtmx, signedOut } from './api.js';
import { J, base, readonly, toDocument, setProblems } from './document.js';
import { updateEmpty } from './canvas.js';

let stateEl = null;
let revision = 0;
let changes = 0; // bumped on every change; a save covers what it saw
let savedChanges = 0;
let saving = null;
let saveTimer = null;
export let conflict = false;
let leaving = false;
let loading = true;
let savedText = 'All changes saved'; // what the bar says when all is saved
const typed = new Set(); // panel fields the user has typed into

export function setState(state, text) {
  stateEl.setAttribute('data-state', state);
  stateEl.textContent = text;
}

export function stateText() {
  return stateEl.textContent;
}

// dirty reports whether the document has changes not yet saved.
export function dirty() {
  return changes !== savedChanges;
}

// fieldChanged reports whether a field holds something other than what
// the server last rendered into it.
function fieldChanged(el) {
  if (el.type === 'checkbox' || el.type === 'radio') {
    return el.checked !== el.defaultChecked;
  }
  if (el.tagName === 'SELECT') {
    const opts = Array.from(el.options);
    const def = Math.max(0, opts.findIndex((o) => o.defaultSelected));
    return el.multiple ? opts.some((o) => o.selected !== o.defaultSelected) : el.selectedIndex !== def;
  }
  return el.value !== el.defaultValue;
}

// typedUnapplied reports whether a panel field holds typed text the
// panel has not applied to the journey yet. An applied field is rendered
// again by the server, so the element typed into leaves the page.
export function typedUnapplied() {
  let any = false;
  for (const el of typed) {
    if (!el.isConnected || !fieldChanged(el)) {
      typed.delete(el);
    } else {
      any = true;
    }
  }
  return any;
}

// unsaved reports whether anything on the page would be lost by leaving.
export function unsaved() {
  return dirty() || typedUnapplied();
}

export function saveState() {
  return { revision: revision, dirty: unsaved(), typed: typedUnapplied(), conflict: conflict, saving: !!saving, signedOut: signedOut() };
}

// refreshState makes the bar true after typing or a panel's answer: it
// says "Unsaved changes" while anything is unsaved, and goes back to what
// it said before once nothing is. A save in progress, a conflict, an
// error or a sign-in keeps its own words.
function refreshState() {
  if (!stateEl || readonly || conflict || saving || signedOut()) {
    return;
  }
  const st = stateEl.getAttribute('data-state');
  if (st === 'error') {
    return;
  }
  if (unsaved() || document.querySelector('.prop-form.htmx-request')) {
    if (st !== 'unsaved') {
      setState('unsaved', 'Unsaved changes');
    }
  } else if (st === 'unsaved') {
    setState('saved', savedText);
  }
}

// setLoading turns change tracking off while the document loads.
export function setLoading(v) {
  loading = v;
}

// leave lets the page go without asking (a reload or a navigation the
// editor started itself).
export function leave() {
  leaving = true;
}

// markDirty counts a change and schedules the autosave. A drag of many
// steps changes hundreds of cells per mouse move, so the state line,
// the timer and the empty-canvas hint are updated once per task.
let markPending = false;
export function markDirty() {
  if (readonly || loading) {
    return;
  }
  changes++;
  if (conflict || markPending) {
    return;
  }
  markPending = true;
  queueMicrotask(() => {
    markPending = false;
    if (conflict) {
      return;
    }
    setState('unsaved', 'Unsaved changes');
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, 800);
    updateEmpty();
  });
}

function timeNow() {
  const d = new Date();
  return String(d.getHours()).padStart(2, '0') + ':' + String(d.getMinutes()).padStart(2, '0');
}

export async function save() {
  clearTimeout(saveTimer);
  if (readonly || conflict) {
    return;
  }
  if (saving) {
    await saving.catch(() => {});
    if (dirty() && !conflict) {
      return save();
    }
    return;
  }
  if (!dirty()) {
    return;
  }
  const upto = changes;
  const body = JSON.stringify({ revision: revision, document: toDocument() });
  setState('saving', 'Saving…');
  saving = (async () => {
    let res;
    try {
      res = await request(base + '/draft', { method: 'POST', json: body });
    } catch (err) {
      setState('error', 'Not saved: offline? Retrying…');
      saveTimer = setTimeout(save, 5000);
      return;
    }
    const out = await readJSON(res);
    if (res.ok) {
      revision = out.revision;
      savedChanges = upto;
      setNameError('');
      setProblems(out.problems);
      savedText = 'Saved at ' + timeNow();
      setState(unsaved() ? 'unsaved' : 'saved', unsaved() ? 'Unsaved changes' : savedText);
      return;
    }
    const e = out.error || {};
    if (res.status === 409) {
      conflict = true;
      setState('conflict', 'Not saved: someone else changed this journey');
      $('#conflict-message').textContent = e.message || 'Someone else saved this journey after you opened it.';
      const dlg = $('#conflict-dialog');
      if (!dlg.open) {
        dlg.showModal();
      }
      return;
    }
    if (res.status === 422 && e.details) {
      const nameProblem = e.details.find((d) => d.field === 'name');
      if (nameProblem) {
        setNameError('The journey needs a name.');
      }
    }
    if (res.status === 401 || res.status === 403) {
      setState('error', 'Not saved: ' + (e.message || 'sign in again'));
      return;
    }
    setState('error', 'Not saved: ' + (e.message || 'error ' + res.status));
  })();
  try {
    await saving;
  } finally {
    saving = null;
  }
  if (dirty() && !conflict && stateEl.getAttribute('data-state') !== 'error') {
    clearTimeout(saveTimer);
    saveTimer = setTimeout(save, 300);
  }
}

// flush saves now and resolves when everything is saved (or failed).
export async function flush() {
  clearTimeout(saveTimer);
  for (let i = 0; i < 5 && (dirty() || saving) && !conflict; i++) {
    await save();
  }
  return !dirty() && !conflict;
}

export function setNameError(msg) {
  const el = $('#name-error');
  el.textContent = msg;
  el.hidden = !msg;
  $('#journey-name').setAttribute('aria-invalid', msg ? 'true' : 'false');
}

// initSave wires autosave: the state line, leaving the page, the conflict
// dialog and the status forms (pause, resume, archive), which save
// pending changes first.
export function initSave(root) {
  stateEl = $('#save-state');
  revision = J.revision;

  window.addEventListener('beforeunload', (e) => {
    if (!leaving && !readonly && !conflict && (unsaved() || saving)) {
      e.preventDefault();
      e.returnValue = '';
    }
  });

  // Typing into a panel's field: unsaved until the panel applies it.
  document.addEventListener('input', (e) => {
    const t = e.target;
    if (readonly || !t || !t.name || !t.closest || !t.closest('.prop-form')) {
      return;
    }
    typed.add(t);
    refreshState();
  }, true);
  // A panel's answer is applied (htmx:load) before htmx:afterSettle.
  document.body.addEventListener('htmx:afterSettle', refreshState);

  // Signed out: the pending save waits for the dialog (api.js).
  watchHtmx();
  document.addEventListener('waymark:signed-out', () => {
    if (!readonly) {
      setState('error', 'Not saved: you were signed out');
    }
  });
  document.addEventListener('waymark:signed-in', () => {
    if (saving) {
      setState('saving', 'Saving…');
    } else if (unsaved()) {
      setState('unsaved', 'Unsaved changes');
      if (dirty()) {
        clearTimeout(saveTimer);
        saveTimer = setTimeout(save, 0);
      }
    } else {
      setState('saved', savedText);
    }
  });

  const conflictDialog = $('#conflict-dialog');
  conflictDialog.addEventListener('click', async (e) => {
    const t = e.target.closest('button');
    if (!t) {
      return;
    }
    if (t.matches('[data-action="reload"]')) {
      leaving = true;
      location.reload();
    } else if (t.matches('[data-action="save-copy"]')) {
      t.disabled = true;
      let res = null;
      let out = {};
      try {
        res = await request('/journeys/copy', { method: 'POST', json: { revision: revision, document: toDocument() } });
        out = await readJSON(res);
      } catch (err) {
        res = null;
      }
      if (res && res.ok && out.url) {
        leaving = true;
        location.href = out.url;
      } else {
        t.disabled = false;
        $('#conflict-message').textContent = (out.error && out.error.message) || 'The copy could not be saved.';
      }
    }
  });

  $$('form[data-flush]', root).forEach((form) => {
    form.addEventListener('submit', async (e) => {
      if (e.defaultPrevented || !dirty()) {
        leaving = true;
        return;
      }
      e.preventDefault();
      if (await flush()) {
        leaving = true;
        form.submit();
      }
    });
  });
}
