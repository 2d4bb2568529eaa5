// Waymark journey editor, the entry module: reads the page's data, sets up
// the canvas, loads the document and wires the toolbar, palette, panel,
// autosave, keyboard, numbers and simulator. The modules:
//
//   api.js       the one CSRF-aware fetch helper
//   dom.js       DOM helpers, the toast
//   canvas.js    the X6 graph: shapes, painting, zoom, fit, tidy up
//   document.js  the journey document <-> cells, edits, undo/redo
//   save.js      autosave, dirty state, conflicts
//   panel.js     the side panel (htmx forms, previews), problems, publish
//   keys.js      keyboard shortcuts
//   stats.js     the numbers on the canvas
//   sim.js       the simulator
//
// No build step: the browser loads these as ES modules, all under one
// hashed URL prefix (ui/web/assets.go).

import { $ } from './dom.js';
import {
  readPage, readonly, D, load, toDocument, addNode, problems, setProblems, watchEdits,
  setJourneyName, undo, redo, copySelection, paste, deleteSelection,
} from './document.js';
import {
  createGraph, graph, selection, history, canvasEl, markPainted, updateEmpty, showZoom, initialView,
  fit, zoomBy, autoLayout, tidyUp, placeUnplaced, NODE_W, HEAD_H,
} from './canvas.js';
import { initSave, setLoading, markDirty, flush, setNameError, saveState } from './save.js';
import { initPanel, openSettings, openPublish } from './panel.js';
import { initKeys } from './keys.js';
import { startStats } from './stats.js';
import { startSim } from './sim.js';

function start() {
  const root = document.getElementById('editor');
  const dataEl = document.getElementById('editor-data');
  if (!root || !dataEl || !window.X6) {
    return;
  }
  readPage(dataEl);
  createGraph(window.X6);
  initSave(root);
  initPanel();

  setLoading(true);
  load(D.document);
  placeUnplaced(D.document);
  markPainted();
  setProblems(problems);
  if (history) {
    history.clean();
  }
  setLoading(false);
  watchEdits();
  initKeys();

  // Toolbar and panel buttons.
  root.addEventListener('click', (e) => {
    const b = e.target.closest('[data-action]');
    if (!b || b.closest('dialog')) {
      return;
    }
    switch (b.getAttribute('data-action')) {
      case 'undo': undo(); break;
      case 'redo': redo(); break;
      case 'zoom-in': zoomBy(1.2); break;
      case 'zoom-out': zoomBy(1 / 1.2); break;
      case 'fit': fit(); break;
      case 'layout': tidyUp(); break;
      case 'copy': copySelection(); paste(); break;
      case 'delete': deleteSelection(); break;
      case 'settings': openSettings(); break;
      case 'publish': openPublish(); break;
      default: return;
    }
  });

  // Palette: drag onto the canvas, or click / Enter to add in view.
  const palette = $('.palette');
  if (palette) {
    palette.addEventListener('dragstart', (e) => {
      const it = e.target.closest('.palette-item');
      if (!it) {
        return;
      }
      e.dataTransfer.setData('text/plain', 'waymark-kind:' + it.getAttribute('data-kind'));
      e.dataTransfer.effectAllowed = 'copy';
    });
    palette.addEventListener('click', (e) => {
      const it = e.target.closest('.palette-item');
      if (!it) {
        return;
      }
      const area = graph.getGraphArea();
      const c = area.getCenter();
      const jitter = (graph.getNodes().length % 5) * 24;
      const node = addNode(it.getAttribute('data-kind'), c.x - NODE_W / 2 + jitter, c.y - HEAD_H / 2 + jitter);
      if (node) {
        canvasEl.focus();
      }
    });
  }
  canvasEl.addEventListener('dragover', (e) => {
    if (!readonly && e.dataTransfer && Array.from(e.dataTransfer.types).includes('text/plain')) {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    }
  });
  canvasEl.addEventListener('drop', (e) => {
    const v = e.dataTransfer ? e.dataTransfer.getData('text/plain') : '';
    if (readonly || !v.startsWith('waymark-kind:')) {
      return;
    }
    e.preventDefault();
    const p = graph.clientToLocal(e.clientX, e.clientY);
    addNode(v.slice('waymark-kind:'.length), p.x - NODE_W / 2, p.y - HEAD_H / 2);
    canvasEl.focus();
  });

  // The journey's name.
  const nameInput = $('#journey-name');
  nameInput.addEventListener('input', () => {
    setJourneyName(nameInput.value);
    setNameError(nameInput.value.trim() === '' ? 'The journey needs a name.' : '');
    markDirty();
  });

  updateEmpty();
  showZoom();

  const ed = {
    graph: graph,
    toDocument: toDocument,
    flush: flush,
    autoLayout: autoLayout,
    addNode: addNode,
    selected: () => selection.getSelectedCells().map((c) => c.id),
    state: () => {
      const s = saveState();
      return { revision: s.revision, dirty: s.dirty, conflict: s.conflict, problems: problems };
    },
    ready: false,
  };
  window.waymarkEditor = ed;
  startStats(ed);
  startSim(ed);

  requestAnimationFrame(() => {
    initialView();
    // Tests and the benchmark wait for this.
    ed.ready = true;
    performance.mark('waymark-editor-ready');
  });
}

start();
