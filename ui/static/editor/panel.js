// The side panel: the server-rendered forms of a step or of the journey's
// settings (htmx), the live previews of templates, the problems list, the
// multi-selection summary and the publish dialog. Panels do not save: they
// validate and render; a form's answer (its data-result) is applied to the
// canvas, which owns the document and autosaves it.

import { $, $$, toast } from './dom.js';
import { request, readJSON } from './api.js';
import {
  J, base, readonly, specs, settings, problems, problemsByNode, problemText,
  applyNodeResult, applySettings, copySelection, deleteSelection,
} from './document.js';
import { graph, selection, paintState, paintEdge, nodeLabel } from './canvas.js';
import { flush, setState, stateText, dirty, conflict, leave } from './save.js';

let panelEmpty = null;
let panelBody = null;
let panelNodeId = null;
let panelMode = null; // 'node', 'settings', 'multi'
let pendingFocusField = null;
let publishDialog = null;

// panelState is what the panel shows: mode and the node it is about.
export function panelState() {
  return { mode: panelMode, nodeId: panelNodeId };
}

function showPanel(mode) {
  panelMode = mode;
  panelEmpty.hidden = mode !== null;
  panelBody.hidden = mode === null;
}

export function closePanel() {
  panelNodeId = null;
  showPanel(null);
  panelBody.replaceChildren();
}

export function openNodePanel(node) {
  const d = node.getData() || {};
  panelNodeId = node.id;
  showPanel('node');
  if (!specs.has(d.kind)) {
    const p = document.createElement('p');
    p.className = 'form-error';
    p.textContent = 'Unknown step kind "' + d.kind + '": this Waymark cannot edit it. Delete it or change the journey through the API.';
    panelBody.replaceChildren(p);
    return;
  }
  htmx.ajax('POST', base + '/panel/node', {
    target: '#panel-body',
    swap: 'innerHTML',
    values: {
      node: JSON.stringify({ id: node.id, kind: d.kind, title: d.title || '', config: d.config || {} }),
      readonly: readonly ? 'true' : 'false',
    },
  });
}

export function openSettings() {
  selection.clean();
  panelNodeId = null;
  showPanel('settings');
  htmx.ajax('POST', base + '/panel/settings', {
    target: '#panel-body',
    swap: 'innerHTML',
    values: { settings: JSON.stringify(settings), readonly: readonly ? 'true' : 'false' },
  });
}

function showMultiPanel(cells) {
  panelNodeId = null;
  showPanel('multi');
  const h = document.createElement('h2');
  h.className = 'panel-title';
  const nodes = cells.filter((c) => c.isNode()).length;
  const edges = cells.length - nodes;
  h.textContent = nodes + (nodes === 1 ? ' step' : ' steps') + (edges ? ' and ' + edges + (edges === 1 ? ' connection' : ' connections') : '') + ' selected';
  const p = document.createElement('p');
  p.className = 'muted';
  p.textContent = readonly ? 'Select one step to see its settings.' : 'Drag to move them together, copy them (Ctrl+C), or delete them (Delete).';
  const actions = document.createElement('div');
  actions.className = 'form-actions';
  if (!readonly) {
    const copy = document.createElement('button');
    copy.type = 'button';
    copy.textContent = 'Copy';
    copy.addEventListener('click', copySelection);
    const del = document.createElement('button');
    del.type = 'button';
    del.className = 'danger';
    del.textContent = 'Delete';
    del.setAttribute('data-testid', 'delete-selection');
    del.addEventListener('click', deleteSelection);
    actions.append(copy, del);
  }
  panelBody.replaceChildren(h, p, actions);
}

// focusPanelField moves the focus into the panel's first field.
export function focusPanelField(includeReadonly) {
  const first = panelBody.querySelector(includeReadonly ? 'input:not([type=hidden]), select, textarea' : 'input:not([type=hidden]):not([readonly]), select, textarea');
  if (first) {
    first.focus();
  }
}

// ------------------------------------------------------------ problems

export function renderNodeProblems() {
  const box = $('#node-problems');
  if (!box || !panelNodeId) {
    return;
  }
  const list = (problemsByNode.get(panelNodeId) || []).filter((p) => !p.field || p.field.startsWith('ports') || p.field === 'id' || p.field === 'kind');
  box.replaceChildren();
  box.hidden = list.length === 0;
  for (const p of list) {
    const item = document.createElement('p');
    item.textContent = problemText(p);
    box.append(item);
  }
}

export function renderProblemsBar() {
  const problemsEl = $('#problems');
  const problemsToggle = $('#problems-toggle');
  const problemsList = $('#problems-list');
  problemsList.replaceChildren();
  if (problems.length === 0) {
    problemsEl.hidden = true;
    return;
  }
  problemsEl.hidden = false;
  problemsToggle.textContent = problems.length === 1 ? '1 problem to fix before publishing' : problems.length + ' problems to fix before publishing';
  for (const p of problems.slice(0, 200)) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'problem';
    b.setAttribute('data-testid', 'problem');
    const who = document.createElement('strong');
    who.textContent = p.node_id ? nodeLabel(p.node_id) : 'Journey';
    const what = document.createElement('span');
    what.textContent = problemText(p);
    b.append(who, what);
    b.addEventListener('click', () => focusProblem(p));
    li.append(b);
    problemsList.append(li);
  }
}

function focusProblem(p) {
  if (p.node_id && graph.getCellById(p.node_id)) {
    focusNode(p.node_id, p.field);
  } else if ((p.field || '').startsWith('settings')) {
    openSettings();
  } else if (p.field === 'name') {
    $('#journey-name').focus();
  }
}

export function focusNode(id, field) {
  const node = graph.getCellById(id);
  if (!node) {
    return;
  }
  pendingFocusField = field || '';
  if (selection.getSelectedCells().length === 1 && selection.isSelected(node) && panelMode === 'node') {
    openNodePanel(node); // re-render to focus the field
  } else {
    selection.reset(node);
  }
  graph.centerCell(node);
}

// ------------------------------------------------------------ previews

// renderPreview redraws a field's preview from /panel/preview's answer as
// the server renders it (ui/views/editor_panel.templ): whom it is for, the
// text, or an HTML body in a sandboxed frame (no scripts, an origin of its
// own), and the warnings about profile fields it reads.
function renderPreview(preview, field, out) {
  const label = document.createElement('span');
  label.className = 'preview-label';
  label.setAttribute('data-testid', 'preview-label');
  label.textContent = out.label || 'Preview for the sample profile';
  const parts = [label];
  if (out.error) {
    const p = document.createElement('p');
    p.className = 'preview-error';
    p.textContent = out.error;
    parts.push(p);
  } else if (out.html) {
    const old = preview.querySelector('iframe.preview-frame');
    const frame = old || document.createElement('iframe');
    if (!old) {
      frame.className = 'preview-frame';
      frame.setAttribute('sandbox', '');
      frame.setAttribute('referrerpolicy', 'no-referrer');
      frame.setAttribute('data-testid', 'preview-frame-' + field.name);
    }
    frame.title = (field.labels && field.labels[0] ? field.labels[0].textContent.trim() + ': ' : '') + label.textContent;
    frame.srcdoc = out.preview;
    parts.push(frame);
  } else {
    const pre = document.createElement('pre');
    pre.className = 'preview-text';
    pre.textContent = out.preview;
    parts.push(pre);
  }
  (out.warnings || []).forEach((w) => {
    const p = document.createElement('p');
    p.className = 'preview-warning pw-' + w.Kind;
    p.setAttribute('role', 'status');
    p.setAttribute('data-testid', 'preview-warning');
    p.setAttribute('data-attr', w.Attribute);
    p.setAttribute('data-kind', w.Kind);
    p.textContent = w.Message;
    if (w.Fix) {
      const code = document.createElement('code');
      code.className = 'pw-fix';
      code.setAttribute('data-testid', 'preview-fix');
      code.textContent = w.Fix;
      p.append(' ', code);
    }
    parts.push(p);
  });
  preview.replaceChildren(...parts);
}

function wirePreviews(form) {
  // Live preview of templates while typing (the form itself posts on change).
  $$('textarea[name^="f."], input[name^="f."]', form).forEach((el) => {
    const preview = document.getElementById(el.id + '-preview');
    if (!preview) {
      return;
    }
    let t = null;
    el.addEventListener('input', () => {
      clearTimeout(t);
      t = setTimeout(async () => {
        const body = new URLSearchParams({ kind: form.querySelector('input[name="kind"]').value, field: el.name.slice(2), value: el.value });
        let res;
        try {
          res = await request(base + '/panel/preview', { method: 'POST', form: body });
        } catch (err) {
          return;
        }
        if (!res.ok) {
          return;
        }
        const out = await readJSON(res);
        renderPreview(preview, el, out);
      }, 350);
    });
  });
  // Running totals of percentages (split weights + holdout).
  const totals = $$('.running-total', form);
  if (totals.length > 0) {
    const inputs = $$('input.percent', form);
    const update = () => {
      let sum = 0;
      inputs.forEach((i) => { sum += parseInt(i.value || '0', 10) || 0; });
      totals.forEach((t) => {
        $('.total-sum', t).textContent = String(sum);
        t.classList.toggle('ok', String(sum) === t.getAttribute('data-want'));
      });
    };
    inputs.forEach((i) => i.addEventListener('input', update));
  }
}

// ------------------------------------------------------------ publish

export async function openPublish() {
  if (readonly) {
    return;
  }
  setState($('#save-state').getAttribute('data-state'), dirty() ? 'Saving…' : stateText());
  const ok = await flush();
  if (!ok) {
    if (!conflict) {
      toast('Save the journey first: ' + stateText());
    }
    return;
  }
  const body = $('#publish-body');
  publishDialog.removeAttribute('data-ready');
  const p = document.createElement('p');
  p.className = 'muted';
  p.textContent = 'Checking the journey…';
  body.replaceChildren(p);
  publishDialog.showModal();
  htmx.ajax('GET', base + '/publish', { target: '#publish-body', swap: 'innerHTML' });
}

// ------------------------------------------------------------- wiring

// initPanel wires the panel to the selection and to htmx's swaps.
export function initPanel() {
  panelEmpty = $('#panel-empty');
  panelBody = $('#panel-body');
  publishDialog = $('#publish-dialog');

  const problemsToggle = $('#problems-toggle');
  const problemsList = $('#problems-list');
  problemsToggle.addEventListener('click', () => {
    const open = problemsList.hidden;
    problemsList.hidden = !open;
    problemsToggle.setAttribute('aria-expanded', open ? 'true' : 'false');
  });

  // A panel form re-renders itself after each change. If the user went on
  // typing while the server answered, keep what they typed: apply the
  // answer's config but do not swap the form (the next change posts again).
  document.body.addEventListener('input', (ev) => {
    const form = ev.target.closest && ev.target.closest('.prop-form');
    if (form) {
      form.wmLastInput = performance.now();
    }
  });
  document.body.addEventListener('htmx:beforeRequest', (ev) => {
    const form = ev.detail.elt;
    if (form && form.classList && form.classList.contains('prop-form')) {
      form.wmRequestAt = performance.now();
    }
  });
  document.body.addEventListener('htmx:beforeSwap', (ev) => {
    const form = ev.detail.target;
    if (!form || !form.classList || !form.classList.contains('prop-form') || !form.isConnected) {
      return;
    }
    if ((form.wmLastInput || 0) > (form.wmRequestAt || 0)) {
      ev.detail.shouldSwap = false;
      const doc = new DOMParser().parseFromString(ev.detail.serverResponse, 'text/html');
      const res = doc.getElementById('node-form');
      if (res) {
        const r = JSON.parse(res.getAttribute('data-result'));
        if (r.applied) {
          applyNodeResult(r);
        }
      }
      const sres = doc.getElementById('settings-form');
      if (sres) {
        applySettings(JSON.parse(sres.getAttribute('data-result')));
      }
    }
  });

  document.body.addEventListener('htmx:load', (ev) => {
    const el = ev.detail.elt;
    if (!(el instanceof Element)) {
      return;
    }
    if (el.classList && el.classList.contains('prop-form')) {
      el.setAttribute('data-ready', 'true'); // htmx has wired it
    }
    if (el.id === 'node-form') {
      const r = JSON.parse(el.getAttribute('data-result'));
      if (r.applied) {
        applyNodeResult(r);
      }
      el.setAttribute('data-errors', String(r.errors));
      wirePreviews(el);
      renderNodeProblems();
      if (pendingFocusField) {
        const name = 'f.' + pendingFocusField.replace(/\[(\d+)\]/g, '.$1');
        const target = el.querySelector('[name="' + CSS.escape(name) + '"]') || el.querySelector('[name="' + CSS.escape(pendingFocusField) + '"]');
        pendingFocusField = null;
        (target || el.querySelector('input:not([type=hidden]), select, textarea')).focus();
      }
    } else if (el.id === 'settings-form') {
      applySettings(JSON.parse(el.getAttribute('data-result')));
    } else {
      if (el.closest && el.closest('#publish-dialog')) {
        publishDialog.setAttribute('data-ready', 'true');
      }
      const pub = el.id === 'publish-done' ? el : $('#publish-done', el);
      if (pub) {
        const r = JSON.parse(pub.getAttribute('data-result'));
        J.status = r.status;
        J.live_version = r.live_version;
        const badge = $('.editor-bar [data-testid="journey-status"]');
        if (badge) {
          badge.textContent = r.status.charAt(0).toUpperCase() + r.status.slice(1);
          badge.className = 'status status-' + r.status;
        }
      }
    }
  });

  document.body.addEventListener('htmx:responseError', (ev) => {
    const xhr = ev.detail.xhr;
    let msg = 'The server could not do that (' + xhr.status + ').';
    try {
      const e = JSON.parse(xhr.responseText).error;
      if (e && e.message) {
        msg = e.message;
      }
    } catch (err) {
      // an HTML error page
    }
    toast(msg);
  });

  // The selection decides what the panel shows.
  graph.on('selection:changed', ({ added, removed }) => {
    for (const c of added.concat(removed)) {
      if (c.isNode()) {
        paintState(c);
      } else if (c.isEdge()) {
        paintEdge(c);
      }
    }
    const cells = selection.getSelectedCells();
    if (cells.length === 0) {
      if (panelMode === 'node' || panelMode === 'multi') {
        closePanel();
      }
    } else if (cells.length === 1 && cells[0].isNode()) {
      if (panelNodeId !== cells[0].id || panelMode !== 'node') {
        openNodePanel(cells[0]);
      }
    } else if (cells.length > 1 || cells[0].isEdge()) {
      showMultiPanel(cells);
    }
  });
  graph.on('node:dblclick', () => focusPanelField(false));

  // A form htmx has just swapped in is wired only when it settles (about
  // 20 ms later): a click on its submit button in between would submit it
  // natively, navigating away with its fields (the CSRF token among them)
  // in the URL. Such a submit is stopped here and handed to htmx.
  // The same holds for the side panel's node and settings forms (Enter in
  // a field just after a re-render).
  for (const box of [publishDialog, panelBody]) {
    box.addEventListener('submit', (e) => {
      if (e.defaultPrevented || !(e.target instanceof HTMLFormElement) || !e.target.hasAttribute('hx-post')) {
        return;
      }
      e.preventDefault();
      const form = e.target;
      htmx.process(form);
      htmx.trigger(form, 'submit');
    });
  }
  publishDialog.addEventListener('click', (e) => {
    const t = e.target.closest('button');
    if (!t) {
      return;
    }
    if (t.matches('[data-action="close-dialog"]')) {
      publishDialog.close();
      if ($('#publish-done', publishDialog)) {
        leave();
        location.reload();
      }
    } else if (t.hasAttribute('data-focus-node')) {
      publishDialog.close();
      const id = t.getAttribute('data-focus-node');
      const field = t.getAttribute('data-focus-field') || '';
      if (id) {
        focusNode(id, field);
      } else {
        focusProblem({ field: field });
      }
    }
  });
}
