// Autosave: every change marks the journey dirty and is saved (POST
// /journeys/{id}/draft with the revision it was based on) shortly after;
// the bar says "Unsaved changes", "Saving…", "Saved at hh:mm" or why it
// was not saved. A conflict (someone else saved) stops autosave and opens
// the conflict dialog. Leaving with unsaved changes asks first.

import { $, $$ } from './dom.js';
import { request, readJSON } from './api.js';
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

export function setState(state, text) {
  stateEl.setAttribute('data-state', state);
  stateEl.textContent = text;
}

export function stateText() {
  return stateEl.textContent;
}

export function dirty() {
  return changes !== savedChanges;
}

export function saveState() {
  return { revision: revision, dirty: dirty(), conflict: conflict, saving: !!saving };
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

export function markDirty() {
  if (readonly || loading) {
    return;
  }
  changes++;
  if (conflict) {
    return;
  }
  setState('unsaved', 'Unsaved changes');
  clearTimeout(saveTimer);
  saveTimer = setTimeout(save, 800);
  updateEmpty();
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
      setState(dirty() ? 'unsaved' : 'saved', dirty() ? 'Unsaved changes' : 'Saved at ' + timeNow());
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
    if (!leaving && !readonly && !conflict && (dirty() || saving)) {
      e.preventDefault();
      e.returnValue = '';
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
