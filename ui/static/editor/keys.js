// Keyboard shortcuts of the canvas (when it has the focus; the list is in
// the editor's "Keyboard" help and docs/editor.md).

import { $, toast, announce } from './dom.js';
import { readonly, specs, deleteSelection, undo, redo, copySelection, paste, selectAll, nudge, setConnections } from './document.js';
import { graph, keyboard, selection, selectedNodes, tidyUp, cycle, zoomBy, fit, portsOf, nodeLabel, isTrigger } from './canvas.js';
import { closePanel, focusPanelField } from './panel.js';

export function initKeys() {
  const bind = (keys, fn) => keyboard.bindKey(keys, (e) => {
    fn(e);
    return false;
  });
  if (!readonly) {
    bind(['delete', 'backspace'], deleteSelection);
    bind(['ctrl+z', 'meta+z'], undo);
    bind(['ctrl+shift+z', 'meta+shift+z', 'ctrl+y'], redo);
    bind(['ctrl+c', 'meta+c'], copySelection);
    bind(['ctrl+v', 'meta+v'], paste);
    bind(['ctrl+x', 'meta+x'], () => { copySelection(); deleteSelection(); });
    bind(['shift+l'], tidyUp);
    bind(['up'], () => nudge(0, -10));
    bind(['down'], () => nudge(0, 10));
    bind(['left'], () => nudge(-10, 0));
    bind(['right'], () => nudge(10, 0));
    bind(['c'], openConnections);
  }
  bind(['ctrl+a', 'meta+a'], selectAll);
  bind([']'], () => cycle(1));
  bind(['['], () => cycle(-1));
  bind(['ctrl+=', 'meta+=', 'ctrl+plus', '=', '+'], () => zoomBy(1.2));
  bind(['ctrl+-', 'meta+-', '-'], () => zoomBy(1 / 1.2));
  bind(['shift+1', 'f'], fit);
  bind(['escape'], () => selection.clean());
  bind(['enter'], () => focusPanelField(true));
  bind(['?', 'shift+/'], () => {
    selection.clean();
    closePanel();
    $('.shortcuts').scrollIntoView();
  });

  // Undo and redo work wherever the focus is (after a toolbar button, on
  // the palette, in the page), except where the browser's own undo of
  // typed text belongs: text fields, and dialogs.
  if (!readonly) {
    document.addEventListener('keydown', (e) => {
      if (e.defaultPrevented || !(e.ctrlKey || e.metaKey) || e.altKey) {
        return;
      }
      const k = e.key.toLowerCase();
      const isUndo = k === 'z' && !e.shiftKey;
      const isRedo = (k === 'z' && e.shiftKey) || (k === 'y' && !e.shiftKey);
      if (!isUndo && !isRedo) {
        return;
      }
      const t = e.target;
      if (t && t.closest && (t.closest('#canvas') || t.closest('dialog') || t.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"]'))) {
        return; // the canvas has its own binding; text fields their own undo
      }
      e.preventDefault();
      if (isUndo) {
        undo();
      } else {
        redo();
      }
    });
  }
}

// openConnections is connecting by keyboard (C on a selected step): a
// dialog lists the step's exits, each with the step it leads to, picked
// from a list of every step (or "Not connected"). Saving rewires the
// exits as one undoable change. Mouse users get the same result by
// dragging from an exit to an entrance.
export function openConnections() {
  const nodes = selectedNodes();
  if (readonly || nodes.length !== 1) {
    toast(nodes.length === 0 ? 'Select a step first (] and [ move between steps), then press C to connect it.' : 'Select one step to connect it.');
    return;
  }
  const node = nodes[0];
  const ports = portsOf(node.getData() || {});
  if (ports.length === 0) {
    toast(nodeLabel(node.id) + ' ends the run: it has no exits to connect.');
    return;
  }
  const targets = graph.getNodes()
    .filter((n) => n.id !== node.id && !isTrigger(n))
    .sort((a, b) => {
      const pa = a.getPosition();
      const pb = b.getPosition();
      return pa.x - pb.x || pa.y - pb.y;
    });
  const labels = new Map();
  const count = new Map();
  for (const n of targets) {
    const l = nodeLabel(n.id);
    count.set(l, (count.get(l) || 0) + 1);
  }
  for (const n of targets) {
    const l = nodeLabel(n.id);
    const sp = specs.get((n.getData() || {}).kind);
    labels.set(n.id, count.get(l) > 1 ? l + ' (' + n.id + ')' : l + (sp && sp.title !== l ? ' · ' + sp.title : ''));
  }

  const dlg = document.createElement('dialog');
  dlg.className = 'dialog';
  dlg.setAttribute('data-testid', 'connect-dialog');
  const h = document.createElement('h2');
  h.id = 'connect-title';
  h.textContent = 'Connect ' + nodeLabel(node.id);
  dlg.setAttribute('aria-labelledby', h.id);
  const help = document.createElement('p');
  help.className = 'muted';
  help.textContent = 'Choose where each exit leads. "Not connected" removes a connection.';
  const form = document.createElement('form');
  form.method = 'dialog';
  const selects = [];
  ports.forEach((p, i) => {
    const field = document.createElement('div');
    field.className = 'field';
    const label = document.createElement('label');
    const sel = document.createElement('select');
    sel.id = 'connect-port-' + i;
    sel.name = p.name;
    sel.setAttribute('data-testid', 'connect-' + p.name);
    label.htmlFor = sel.id;
    label.textContent = ports.length > 1 ? 'Exit "' + p.title + '" leads to' : 'Leads to';
    const none = document.createElement('option');
    none.value = '';
    none.textContent = 'Not connected';
    sel.append(none);
    for (const n of targets) {
      const o = document.createElement('option');
      o.value = n.id;
      o.textContent = labels.get(n.id);
      sel.append(o);
    }
    const edge = graph.getConnectedEdges(node, { outgoing: true }).find((e) => e.getSourcePortId() === 'out:' + p.name);
    sel.value = edge ? edge.getTargetCellId() : '';
    field.append(label, sel);
    form.append(field);
    selects.push(sel);
  });
  const actions = document.createElement('div');
  actions.className = 'dialog-actions';
  const cancel = document.createElement('button');
  cancel.type = 'button';
  cancel.textContent = 'Cancel';
  const save = document.createElement('button');
  save.type = 'submit';
  save.className = 'primary';
  save.textContent = 'Save connections';
  save.setAttribute('data-testid', 'connect-save');
  actions.append(cancel, save);
  form.append(actions);
  dlg.append(h, help, form);

  let apply = false;
  cancel.addEventListener('click', () => dlg.close());
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    apply = true;
    dlg.close();
  });
  dlg.addEventListener('close', () => {
    dlg.remove();
    const canvas = $('#canvas');
    if (apply) {
      const want = {};
      selects.forEach((sel) => { want[sel.name] = sel.value; });
      const n = setConnections(node, want);
      if (n > 0) {
        const msg = n === 1 ? 'Connection changed. Ctrl+Z undoes it.' : n + ' connections changed. Ctrl+Z undoes it.';
        toast(msg);
        announce(msg);
      }
    }
    if (canvas) {
      canvas.focus();
    }
  });
  (document.getElementById('editor') || document.body).append(dlg);
  dlg.showModal();
  if (selects[0]) {
    selects[0].focus();
  }
}
