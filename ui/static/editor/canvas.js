// The canvas: the X6 graph that draws the journey document, the node and
// edge shapes, selection and validity painting, and the view (zoom, fit,
// tidy up). The document (document.js) is the model; X6 cells are only its
// drawing. User text reaches the DOM through X6's text attribute or
// textContent only — never innerHTML.

import { $, announce, toast, ask } from './dom.js';
import { specs, readonly, problemsByNode, problemText } from './document.js';

// ---------------------------------------------------------------- geometry

export const NODE_W = 200;
export const HEAD_H = 64;
const ROW_H = 24;
const COLORS = { trigger: '#0e9384', flow: '#6172f3', action: '#dc6803', unknown: '#667085' };
const ICONS = {
  trigger: 'M13 2 4 14h7l-1 8 9-12h-7l1-8z',
  flow: 'M6 3v12M18 9a3 3 0 1 0 0-6 3 3 0 0 0 0 6ZM6 21a3 3 0 1 0 0-6 3 3 0 0 0 0 6ZM18 9a9 9 0 0 1-9 9',
  action: 'm22 2-7 20-4-9-9-4 20-7zM22 2 11 13',
  unknown: 'M12 8v4M12 16h.01M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20z',
};
const STROKE = '#d0d5dd';
export const STROKE_SELECTED = '#2f5bea';
const STROKE_INVALID = '#d92d20';
export const EDGE_STROKE = '#98a2b3';

export function clip(s, n) {
  s = String(s == null ? '' : s).replace(/\s+/g, ' ').trim();
  return s.length > n ? s.slice(0, n - 1) + '…' : s;
}

// fitText cuts s to about width pixels of text at size px (an estimate:
// measuring 500 nodes' titles in the DOM is slow).
function fitText(s, width, size) {
  s = String(s == null ? '' : s).replace(/\s+/g, ' ').trim();
  let w = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    w += size * (/[il.,:;'!|()\[\] ]/.test(c) ? 0.32 : /[mwMW@%]/.test(c) ? 0.9 : /[A-Z0-9<>={}_]/.test(c) ? 0.68 : 0.57);
    if (w > width) {
      return s.slice(0, Math.max(1, i - 1)) + '…';
    }
  }
  return s;
}

// A node's output ports are the server's (nodes.Spec.PortsFor); the
// canvas computes none. The page gives those of the document's nodes
// (D.ports) and of a new node of each kind (spec.new_ports), a panel
// answer those of the config it read. They travel in the node's data, so
// copy, paste and undo keep them.
export function portsOf(data) {
  return data && Array.isArray(data.ports) ? data.ports : [];
}

export function nodeHeight(ports) {
  return ports.length > 1 ? HEAD_H + ports.length * ROW_H + 6 : HEAD_H;
}

function portY(i, n) {
  return n > 1 ? HEAD_H + i * ROW_H + ROW_H / 2 + 2 : HEAD_H / 2;
}

export function portItems(spec, ports) {
  const items = [];
  if (!spec || spec.category !== 'trigger') {
    items.push({ id: 'in', group: 'in', args: { x: 0, y: HEAD_H / 2 } });
  }
  ports.forEach((p, i) => {
    items.push({
      id: 'out:' + p.name,
      group: 'out',
      args: { x: NODE_W, y: portY(i, ports.length) },
      attrs: {
        text: { text: ports.length > 1 ? clip(p.title, 22) : '' },
        circle: { stroke: p.name === 'failed' ? STROKE_INVALID : '#2f5bea' },
      },
    });
  });
  return items;
}

function summaryOf(spec, config) {
  if (!spec) {
    return 'Unknown kind';
  }
  for (const name of spec.summary || []) {
    const v = config[name];
    if (typeof v === 'string' && v.trim() !== '') {
      return v;
    }
    if (typeof v === 'number') {
      return String(v);
    }
  }
  const dyn = spec.dynamic_ports;
  if (dyn && Array.isArray(config[dyn.field])) {
    const n = config[dyn.field].length;
    return n + ' ' + (n === 1 ? 'branch' : 'branches');
  }
  if (spec.terminal) {
    return typeof config.reason === 'string' && config.reason ? config.reason : 'Ends the run';
  }
  if (typeof config.connector === 'string' && config.connector) {
    return 'via ' + config.connector;
  }
  if (Object.keys(config).length > 0 || !spec.needs_setup) {
    return ' ';
  }
  return '';
}

// nodeAttrs are the visual attributes derived from a node's data.
export function nodeAttrs(data) {
  const spec = specs.get(data.kind);
  const cat = spec ? spec.category : 'unknown';
  const color = COLORS[cat] || COLORS.unknown;
  const config = data.config || {};
  const ports = portsOf(data);
  const h = nodeHeight(ports);
  const summary = summaryOf(spec, config);
  return {
    accent: { fill: color },
    icon: { d: ICONS[cat] || ICONS.unknown },
    kind: { text: (spec ? spec.title : data.kind).toUpperCase(), fill: color },
    title: { text: fitText(data.title || (spec ? spec.title : data.kind), NODE_W - 58, 14) },
    summary: { text: fitText(summary || 'Not set up yet', NODE_W - 58, 12.5), fill: summary ? '#667085' : '#98a2b3', fontStyle: summary ? 'normal' : 'italic' },
    divider: { d: ports.length > 1 ? 'M 1 ' + HEAD_H + ' H ' + (NODE_W - 1) : 'M 0 0', visibility: ports.length > 1 ? 'visible' : 'hidden' },
    _height: h,
  };
}

// flowConnector draws a connection from an exit (right side) to an
// entrance (left side). Forward, it is an S-curve. Backward (the entrance
// is left of the exit: a loop back, or a step placed behind), an S-curve
// would run under both steps and hide its arrow, so it leaves to the
// right, runs below both steps and comes into the entrance from the
// left, where its arrowhead shows.
const BACK_GAP = 24; // how far the route stands off the steps
const BACK_R = 12; // corner radius
function flowConnector(s, t, route, opts, view) {
  // The steps' boxes (the view's sourceBBox is the port's).
  const src = view && view.cell.getSourceCell();
  const dst = view && view.cell.getTargetCell();
  if (t.x - s.x >= BACK_GAP || !src || !dst) {
    const dx = Math.max(Math.abs(t.x - s.x) / 2, 40);
    return 'M ' + s.x + ' ' + s.y + ' C ' + (s.x + dx) + ' ' + s.y + ' ' + (t.x - dx) + ' ' + t.y + ' ' + t.x + ' ' + t.y;
  }
  const r = BACK_R;
  const x1 = s.x + BACK_GAP;
  const x2 = t.x - BACK_GAP;
  const sb = src.getBBox();
  const tb = dst.getBBox();
  const y = Math.max(sb.y + sb.height, tb.y + tb.height) + BACK_GAP;
  return [
    'M', s.x, s.y,
    'H', x1 - r,
    'Q', x1, s.y, x1, s.y + r,
    'V', y - r,
    'Q', x1, y, x1 - r, y,
    'H', x2 + r,
    'Q', x2, y, x2, y - r,
    'V', t.y + r,
    'Q', x2, t.y, x2 + r, t.y,
    'H', t.x,
  ].join(' ');
}

function registerShapes(X6) {
  X6.Graph.registerNode('wm-node', {
    inherit: 'rect',
    width: NODE_W,
    height: HEAD_H,
    markup: [
      { tagName: 'rect', selector: 'body' },
      { tagName: 'rect', selector: 'accent' },
      { tagName: 'path', selector: 'icon' },
      { tagName: 'text', selector: 'kind' },
      { tagName: 'text', selector: 'title' },
      { tagName: 'text', selector: 'summary' },
      { tagName: 'path', selector: 'divider' },
      { tagName: 'text', selector: 'stats' },
      {
        tagName: 'g', selector: 'badge',
        children: [{ tagName: 'circle', selector: 'badgeBg' }, { tagName: 'text', selector: 'badgeText' }],
      },
    ],
    attrs: {
      body: { refWidth: '100%', refHeight: '100%', rx: 10, ry: 10, fill: '#ffffff', stroke: STROKE, strokeWidth: 1.5 },
      accent: { x: 12, y: 14, width: 26, height: 26, rx: 7, ry: 7, fill: COLORS.flow },
      icon: { transform: 'translate(16 18) scale(0.75)', fill: 'none', stroke: '#ffffff', strokeWidth: 2.2, strokeLinecap: 'round', strokeLinejoin: 'round' },
      kind: { refX: 46, refY: 19, fontSize: 10, fontWeight: 700, letterSpacing: 0.6, textAnchor: 'start', textVerticalAnchor: 'middle', fontFamily: 'system-ui, sans-serif' },
      title: { refX: 46, refY: 36, fontSize: 14, fontWeight: 600, fill: '#101828', textAnchor: 'start', textVerticalAnchor: 'middle', fontFamily: 'system-ui, sans-serif' },
      summary: { refX: 46, refY: 52, fontSize: 11.5, fill: '#667085', textAnchor: 'start', textVerticalAnchor: 'middle', fontFamily: 'ui-monospace, SFMono-Regular, Menlo, monospace' },
      divider: { stroke: '#eaecf0', strokeWidth: 1, fill: 'none' },
      // The node's numbers (stats.js), under the node.
      stats: { refX: 2, refDy: 12, fontSize: 11.5, fill: '#475467', textAnchor: 'start', textVerticalAnchor: 'middle', fontFamily: 'system-ui, sans-serif', 'data-testid': 'node-stats', text: '' },
      badge: { transform: 'translate(' + (NODE_W - 4) + ' 4)', visibility: 'hidden' },
      badgeBg: { r: 10, fill: STROKE_INVALID, stroke: '#ffffff', strokeWidth: 2 },
      badgeText: { text: '!', fill: '#ffffff', fontSize: 12, fontWeight: 700, textAnchor: 'middle', textVerticalAnchor: 'middle', fontFamily: 'system-ui, sans-serif' },
    },
    ports: {
      groups: {
        in: {
          position: 'absolute',
          markup: [{ tagName: 'circle', selector: 'circle' }],
          attrs: { circle: { r: 6, magnet: 'passive', stroke: '#98a2b3', strokeWidth: 2, fill: '#ffffff' } },
        },
        out: {
          position: 'absolute',
          markup: [{ tagName: 'circle', selector: 'circle' }],
          label: { position: { name: 'left', args: { x: -12, y: 0 } } },
          attrs: {
            circle: { r: 6, magnet: true, stroke: '#2f5bea', strokeWidth: 2, fill: '#ffffff' },
            text: { fontSize: 12, fill: '#344054', fontFamily: 'system-ui, sans-serif' },
          },
        },
      },
    },
  }, true);

  X6.Graph.registerConnector('wm-flow', flowConnector, true);
  X6.Graph.registerEdge('wm-edge', {
    inherit: 'edge',
    attrs: {
      line: { stroke: EDGE_STROKE, strokeWidth: 2, targetMarker: { name: 'block', width: 9, height: 7 } },
    },
    connector: { name: 'wm-flow' },
    zIndex: -1,
  }, true);
}

// -------------------------------------------------------------- the graph

export let canvasEl = null;
export let graph = null;
export let keyboard = null;
export let selection = null;
export let history = null; // null when read-only

// quiet marks a change that is decoration, not the user's: no undo entry.
export const quiet = { ignoreHistory: true };

// X6 (and its plugins) insert their CSS as inline <style> elements, which
// the Content-Security-Policy refuses (and logs). ui/vendor.mjs ships the
// same CSS as vendor/x6.css, linked by the page; X6 skips the insertion
// while it believes a hot module reload is applying, so pretend that
// while the graph and its plugins are set up.
function withoutInlineCSS(fn) {
  const had = Object.prototype.hasOwnProperty.call(window, 'module');
  const prev = window.module;
  window.module = { hot: { status: () => 'apply' } };
  try {
    return fn();
  } finally {
    if (had) {
      window.module = prev;
    } else {
      delete window.module;
    }
  }
}

// createGraph sets up X6 in #canvas: the graph and its selection, snap
// lines, keyboard and (when editable) history plugins.
export function createGraph(X6) {
  registerShapes(X6);
  canvasEl = $('#canvas');
  X6.Config.autoInsertCSS = false;
  withoutInlineCSS(() => {
    graph = new X6.Graph({
      container: canvasEl,
      autoResize: true,
      // Draw only what is in view: a 500-step journey opens in well under
      // a second (docs/editor.md, "Speed").
      async: true,
      virtual: true,
      grid: { size: 10, visible: true, type: 'dot', args: { color: '#c8ced8', thickness: 1 } },
      background: { color: '#f7f8fa' },
      panning: { enabled: true, eventTypes: ['leftMouseDown', 'mouseWheel'] },
      mousewheel: { enabled: true, modifiers: ['ctrl', 'meta'], factor: 1.1, minScale: MIN_ZOOM, maxScale: 2 },
      scaling: { min: MIN_ZOOM, max: 2 },
      connecting: {
        connector: { name: 'wm-flow' },
        anchor: 'center',
        connectionPoint: 'anchor',
        allowBlank: false,
        allowLoop: false,
        allowNode: false,
        allowEdge: false,
        allowMulti: 'withPort',
        highlight: true,
        snap: { radius: 24 },
        createEdge() {
          return this.createEdge({ shape: 'wm-edge' });
        },
        validateMagnet({ cell, magnet }) {
          if (readonly) {
            return false;
          }
          const port = magnet.getAttribute('port') || '';
          if (!port.startsWith('out:')) {
            return false;
          }
          if (outgoing(cell, port)) {
            toast('Each exit leads to one step. Delete its connection first to change it.');
            return false;
          }
          return true;
        },
        validateConnection({ sourceCell, targetCell, sourcePort, targetPort }) {
          return !!targetCell && sourceCell !== targetCell && targetPort === 'in' &&
            !!sourcePort && sourcePort.startsWith('out:');
        },
      },
      highlighting: {
        magnetAvailable: { name: 'className', args: { className: 'wm-available' } },
        magnetAdsorbed: { name: 'className', args: { className: 'wm-adsorbed' } },
      },
      interacting: readonly
        ? { nodeMovable: false, edgeMovable: false, magnetConnectable: false, edgeLabelMovable: false, arrowheadMovable: false, vertexMovable: false, vertexAddable: false, vertexDeletable: false }
        : { nodeMovable: () => !groupDrag, edgeMovable: false, magnetConnectable: true, edgeLabelMovable: false, arrowheadMovable: false, vertexMovable: false, vertexAddable: false, vertexDeletable: false },
    });
    selection = new X6.Selection({
      enabled: true,
      multiple: true,
      rubberband: !readonly,
      modifiers: ['shift'],
      multipleSelectionModifiers: ['ctrl', 'meta', 'shift'],
      movable: !readonly,
      showNodeSelectionBox: false,
      showEdgeSelectionBox: false,
      pointerEvents: 'none',
    });
    graph.use(selection);
    graph.use(new X6.Snapline({ enabled: !readonly, sharp: true }));
    keyboard = new X6.Keyboard({ enabled: true, global: false });
    graph.use(keyboard);
    if (!readonly) {
      history = new X6.History({
        enabled: true,
        stackSize: 200,
        beforeAddCommand(event, args) {
          if (args && args.options && args.options.ignoreHistory) {
            return false;
          }
          if (args && (args.key === 'attrs' || args.key === 'tools' || args.key === 'zIndex')) {
            return false;
          }
          return true;
        },
      });
      graph.use(history);
    }
  });
  // The keyboard plugin makes the canvas focusable only by script; make it
  // part of the tab order.
  canvasEl.setAttribute('tabindex', '0');

  graph.on('view:mounted', ({ view }) => {
    markView(view);
    if (view.cell.isNode() && problemsByNode.has(view.cell.id)) {
      titleView(view.cell);
    }
  });
  graph.on('node:mouseenter', ({ node }) => {
    const view = graph.findViewByCell(node);
    if (view && view.container) {
      view.container.classList.add('wm-hover');
    }
  });
  graph.on('node:mouseleave', ({ node }) => {
    const view = graph.findViewByCell(node);
    if (view && view.container) {
      view.container.classList.remove('wm-hover');
    }
  });
  graph.on('scale', showZoom);
  if (!readonly) {
    graph.on('node:mousedown', ({ e, node }) => startGroupDrag(e, node));
  }
  return graph;
}

// ------------------------------------------------------- moving many steps

// A drag of a large selection moves the drawing only (an SVG transform on
// each step and on the connections inside the selection; connections to
// steps outside it are hidden meanwhile) and moves the steps themselves
// once, on release, as one undoable change. Moving 400 steps through X6 on
// every mouse move costs hundreds of milliseconds per move.
export const GROUP_DRAG_MIN = 25;
let groupDrag = null;

function startGroupDrag(e, node) {
  const ev = e.originalEvent || e;
  if (ev.button !== 0 || ev.shiftKey || ev.ctrlKey || ev.metaKey || !selection.isSelected(node)) {
    return;
  }
  const nodes = selectedNodes();
  if (nodes.length < GROUP_DRAG_MIN) {
    return;
  }
  const ids = new Set(nodes.map((n) => n.id));
  const views = [];
  for (const n of nodes) {
    const v = graph.findViewByCell(n);
    if (v && v.container) {
      views.push({ el: v.container, transform: v.container.getAttribute('transform') || '', pos: n.getPosition() });
    }
  }
  const inner = [];
  const outer = [];
  for (const edge of graph.getEdges()) {
    const a = ids.has(edge.getSourceCellId());
    const b = ids.has(edge.getTargetCellId());
    if (!a && !b) {
      continue;
    }
    const v = graph.findViewByCell(edge);
    if (v && v.container) {
      (a && b ? inner : outer).push(v.container);
    }
  }
  const panning = graph.isPannable();
  graph.disablePanning();
  groupDrag = { nodes: nodes, views: views, inner: inner, outer: outer, x: ev.clientX, y: ev.clientY, dx: 0, dy: 0, frame: 0, panning: panning };
  // Capture: X6 stops the drag's events from bubbling to the document.
  document.addEventListener('mousemove', moveGroupDrag, true);
  document.addEventListener('mouseup', endGroupDrag, true);
}

function moveGroupDrag(ev) {
  const d = groupDrag;
  if (!d) {
    return;
  }
  const z = graph.zoom();
  const grid = graph.getGridSize();
  d.dx = Math.round((ev.clientX - d.x) / z / grid) * grid;
  d.dy = Math.round((ev.clientY - d.y) / z / grid) * grid;
  if (!d.frame) {
    d.frame = requestAnimationFrame(drawGroupDrag);
  }
}

function drawGroupDrag() {
  const d = groupDrag;
  if (!d) {
    return;
  }
  d.frame = 0;
  for (const v of d.views) {
    v.el.setAttribute('transform', 'translate(' + (v.pos.x + d.dx) + ',' + (v.pos.y + d.dy) + ')');
  }
  for (const el of d.inner) {
    el.setAttribute('transform', 'translate(' + d.dx + ',' + d.dy + ')');
  }
  for (const el of d.outer) {
    if (d.dx || d.dy) {
      el.setAttribute('visibility', 'hidden');
    } else {
      el.removeAttribute('visibility');
    }
  }
}

function endGroupDrag() {
  const d = groupDrag;
  document.removeEventListener('mousemove', moveGroupDrag, true);
  document.removeEventListener('mouseup', endGroupDrag, true);
  if (!d) {
    return;
  }
  groupDrag = null;
  if (d.frame) {
    cancelAnimationFrame(d.frame);
  }
  for (const v of d.views) {
    v.el.setAttribute('transform', v.transform);
  }
  for (const el of d.inner) {
    el.removeAttribute('transform');
  }
  for (const el of d.outer) {
    el.removeAttribute('visibility');
  }
  if (d.panning) {
    graph.enablePanning();
  }
  if (d.dx || d.dy) {
    graph.startBatch('move-selection');
    d.nodes.forEach((n) => n.translate(d.dx, d.dy));
    graph.stopBatch('move-selection');
  }
}

// outgoing is the connection leaving a node's port, if any.
export function outgoing(node, portId) {
  return graph.getConnectedEdges(node, { outgoing: true }).find((e) => e.getSourcePortId() === portId);
}

export function selectedNodes() {
  return selection.getSelectedCells().filter((c) => c.isNode());
}

// ------------------------------------------------------ selection, validity

// paintState shows a node's selection and validity. It touches the
// node only when that state changes (500-node journeys repaint often).
const painted = new Map(); // node id -> "sel|bad"
export function paintState(node, force) {
  const bad = problemsByNode.has(node.id);
  const sel = selection.isSelected(node);
  const key = (sel ? 's' : '') + (bad ? 'b' : '');
  if (!force && painted.get(node.id) === key) {
    return;
  }
  painted.set(node.id, key);
  node.attr({
    body: { stroke: sel ? STROKE_SELECTED : bad ? STROKE_INVALID : STROKE, strokeWidth: sel || bad ? 2.5 : 1.5 },
    badge: { visibility: bad ? 'visible' : 'hidden' },
  }, quiet);
  markView(graph.findViewByCell(node));
}

// markPainted records the state every node was drawn in (after a load).
export function markPainted() {
  graph.getNodes().forEach((n) => painted.set(n.id, ''));
}

// markView puts the state on the node's SVG group, for CSS and tests.
function markView(view) {
  if (!view || !view.container || !view.cell.isNode()) {
    return;
  }
  const key = painted.get(view.cell.id) || '';
  view.container.setAttribute('data-testid', 'node-' + view.cell.id);
  view.container.setAttribute('data-invalid', key.includes('b') ? 'true' : 'false');
  view.container.setAttribute('data-selected', key.includes('s') ? 'true' : 'false');
}

// titleView gives an invalid node a tooltip listing its problems.
export function titleView(node) {
  const view = graph.findViewByCell(node);
  if (!view || !view.container) {
    return;
  }
  let t = view.container.querySelector(':scope > title');
  const list = problemsByNode.get(node.id);
  if (!list) {
    if (t) {
      t.remove();
    }
    return;
  }
  if (!t) {
    t = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    view.container.prepend(t);
  }
  t.textContent = list.map(problemText).join('\n');
}

// paintEdge shows an edge's selection.
export function paintEdge(edge) {
  edge.attr('line/stroke', selection.isSelected(edge) ? STROKE_SELECTED : EDGE_STROKE, quiet);
}

// nodeLabel is what a person calls a node: its title, else its kind's.
export function nodeLabel(id) {
  const n = graph.getCellById(id);
  if (!n || !n.isNode()) {
    return id;
  }
  const d = n.getData() || {};
  const spec = specs.get(d.kind);
  return d.title || (spec ? spec.title : id);
}

export function isTrigger(node) {
  const sp = specs.get((node.getData() || {}).kind);
  return !!sp && sp.category === 'trigger';
}

// ------------------------------------------------------- layout & view

// Fit goes as far out as a journey needs (a 400-step chain is wide);
// the zoom buttons and the wheel stop at the same floor.
export const MIN_ZOOM = 0.02;
const MAX_ZOOM = 2;

export function showZoom() {
  const el = $('#zoom-level');
  if (el) {
    el.textContent = Math.round(graph.zoom() * 100) + '%';
  }
}

export function zoomBy(f) {
  const z = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, graph.zoom() * f));
  graph.zoomTo(z, { center: graph.getGraphArea().getCenter() });
  showZoom();
}

// initialView fits the journey on screen when it stays readable;
// a journey too big for that opens at a readable zoom on its trigger.
export function initialView() {
  const nodes = graph.getNodes();
  if (nodes.length === 0) {
    fit();
    return;
  }
  const area = graph.getContentArea({ useCellGeometry: true });
  const w = canvasEl.clientWidth;
  const h = canvasEl.clientHeight;
  const scale = Math.min((w - 96) / area.width, (h - 96) / area.height);
  if (scale >= 0.45) {
    fit();
    return;
  }
  const start = nodes.find(isTrigger) || nodes[0];
  const p = start.getPosition();
  const z = 0.8;
  graph.zoomTo(z);
  graph.translate(60 - p.x * z, h / 2 - (p.y + start.getSize().height / 2) * z);
  showZoom();
}

export function fit() {
  if (graph.getNodes().length === 0) {
    graph.zoomTo(1);
    graph.translate(40, 40);
  } else {
    graph.zoomToFit({ padding: 48, maxScale: 1, minScale: MIN_ZOOM, useCellGeometry: true });
  }
  showZoom();
}

// layoutPositions computes the tidy layout: layered, left to right.
// Layers are longest paths from the triggers (back edges of loops
// ignored); in each layer a step sits near its parents, in the order of
// their ports. A long journey (many layers) wraps into rows of layers, as
// text wraps into lines, so the whole fits on screen at a readable
// size instead of one row 100,000 px wide. Returns id -> {x, y}.
function layoutPositions() {
  const nodes = graph.getNodes();
  const out = new Map();
  const indeg = new Map();
  nodes.forEach((n) => { out.set(n.id, []); indeg.set(n.id, 0); });
  const portOrder = (n, portId) => n.getPorts().findIndex((p) => p.id === portId);
  for (const e of graph.getEdges()) {
    const s = e.getSourceCellId();
    const t = e.getTargetCellId();
    if (out.has(s) && out.has(t)) {
      out.get(s).push({ to: t, order: portOrder(graph.getCellById(s), e.getSourcePortId()) });
    }
  }
  out.forEach((l) => l.sort((a, b) => a.order - b.order));
  // DFS from roots to find back edges (iterative: a 1,000-step chain is
  // deeper than the call stack likes).
  const state = new Map();
  const back = new Set();
  const order = [];
  const trig = (id) => isTrigger(graph.getCellById(id));
  const dfs = (root) => {
    const stack = [{ id: root, i: 0 }];
    state.set(root, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      const edges = out.get(top.id);
      if (top.i < edges.length) {
        const to = edges[top.i++].to;
        if (state.get(to) === 1) {
          back.add(top.id + '>' + to);
        } else if (!state.has(to)) {
          state.set(to, 1);
          stack.push({ id: to, i: 0 });
        }
      } else {
        state.set(top.id, 2);
        order.push(top.id);
        stack.pop();
      }
    }
  };
  for (const e of graph.getEdges()) {
    const t = e.getTargetCellId();
    if (indeg.has(t)) {
      indeg.set(t, indeg.get(t) + 1);
    }
  }
  const byPos = nodes.slice().sort((a, b) => a.getPosition().y - b.getPosition().y);
  const roots = byPos.filter((n) => trig(n.id)).concat(byPos.filter((n) => !trig(n.id) && indeg.get(n.id) === 0));
  roots.forEach((n) => { if (!state.has(n.id)) { dfs(n.id); } });
  byPos.forEach((n) => { if (!state.has(n.id)) { dfs(n.id); } });
  const topo = order.reverse();
  const layer = new Map();
  topo.forEach((id) => layer.set(id, 0));
  for (const id of topo) {
    for (const { to } of out.get(id)) {
      if (!back.has(id + '>' + to)) {
        layer.set(to, Math.max(layer.get(to), layer.get(id) + 1));
      }
    }
  }
  const layers = [];
  topo.forEach((id) => {
    const l = layer.get(id);
    (layers[l] = layers[l] || []).push(id);
  });
  const parents = new Map();
  nodes.forEach((n) => parents.set(n.id, []));
  for (const id of topo) {
    out.get(id).forEach(({ to }, i) => {
      if (!back.has(id + '>' + to)) {
        parents.get(to).push({ id: id, i: i });
      }
    });
  }
  const GAP_X = 110;
  const GAP_Y = 36;
  const y = new Map();
  const extent = []; // per layer: [top, bottom]
  layers.forEach((ids, l) => {
    const want = ids.map((id, k) => {
      const ps = parents.get(id);
      if (ps.length === 0) {
        return { id: id, y: k * (HEAD_H + GAP_Y) };
      }
      let sum = 0;
      ps.forEach((p) => {
        const pn = graph.getCellById(p.id);
        const n = out.get(p.id).length;
        sum += y.get(p.id) + pn.getSize().height / 2 + (p.i - (n - 1) / 2) * (HEAD_H + GAP_Y) / 1.5;
      });
      return { id: id, y: sum / ps.length };
    });
    want.sort((a, b) => a.y - b.y);
    let bottom = -Infinity;
    let top = Infinity;
    for (const w of want) {
      const h = graph.getCellById(w.id).getSize().height;
      const t = Math.max(w.y - h / 2, bottom + GAP_Y);
      y.set(w.id, t);
      top = Math.min(top, t);
      bottom = t + h;
    }
    extent[l] = [top, bottom];
    layers[l] = want.map((w) => w.id);
  });
  // Wrap: k layers per row, the k whose rows come closest to the
  // canvas's proportions (never fewer than WRAP_MIN layers per row).
  const colW = NODE_W + GAP_X;
  const ROW_GAP = 90;
  const rows = (k) => {
    const out = [];
    for (let i = 0; i < layers.length; i += k) {
      let top = Infinity;
      let bottom = -Infinity;
      for (let l = i; l < Math.min(i + k, layers.length); l++) {
        top = Math.min(top, extent[l][0]);
        bottom = Math.max(bottom, extent[l][1]);
      }
      out.push({ top: top, height: bottom - top });
    }
    return out;
  };
  const aspect = Math.max(0.5, (canvasEl.clientWidth || 1200) / (canvasEl.clientHeight || 700));
  let k = layers.length;
  if (layers.length > WRAP_AFTER) {
    let best = Infinity;
    for (let c = WRAP_MIN; c <= layers.length; c++) {
      const rs = rows(c);
      const h = rs.reduce((sum, r) => sum + r.height, 0) + ROW_GAP * (rs.length - 1);
      const score = Math.abs(Math.log((c * colW) / h / aspect));
      if (score < best - 1e-9) {
        best = score;
        k = c;
      }
    }
  }
  const rs = rows(k);
  const pos = new Map();
  let offset = 0;
  rs.forEach((r, i) => {
    for (let l = i * k; l < Math.min((i + 1) * k, layers.length); l++) {
      for (const id of layers[l]) {
        pos.set(id, { x: 60 + (l - i * k) * colW, y: Math.round((offset + y.get(id) - r.top) / 10) * 10 + 60 });
      }
    }
    offset += r.height + ROW_GAP;
  });
  return pos;
}

// A journey of more than WRAP_AFTER layers wraps into rows of at least
// WRAP_MIN layers; a shorter one stays one row, left to right.
const WRAP_AFTER = 12;
const WRAP_MIN = 8;

// autoLayout puts every step where the tidy layout wants it, as one
// undoable change, and fits the view.
export function autoLayout() {
  if (readonly || graph.getNodes().length === 0) {
    return;
  }
  const pos = layoutPositions();
  graph.startBatch('layout');
  for (const [id, p] of pos) {
    graph.getCellById(id).position(p.x, p.y);
  }
  graph.stopBatch('layout');
  fit();
}

// placeUnplaced lays out a journey written without positions (one made
// through the API or a file: the server stores a missing position as the
// origin, so its steps would sit one on another there) as Tidy up would,
// when at least half its steps are at the origin. It runs while the
// document loads: it is neither an edit nor an undo step; the positions
// are saved with the next edit.
export function placeUnplaced(doc) {
  const all = doc.nodes || [];
  const unplaced = all.filter((n) => !n.position || (!n.position.x && !n.position.y)).length;
  if (unplaced < 2 || unplaced * 2 < all.length || graph.getNodes().length < 2) {
    return false;
  }
  for (const [id, p] of layoutPositions()) {
    graph.getCellById(id).position(p.x, p.y);
  }
  return true;
}

// tidyUp is the toolbar's Tidy up (and Shift+L): it asks before it
// replaces a layout someone arranged by hand, and says how to undo it.
export async function tidyUp() {
  const nodes = graph.getNodes();
  if (readonly || nodes.length === 0) {
    return;
  }
  const pos = layoutPositions();
  let moved = 0;
  const seen = new Set();
  for (const n of nodes) {
    const p = n.getPosition();
    const want = pos.get(n.id);
    if (Math.abs(p.x - want.x) >= 1 || Math.abs(p.y - want.y) >= 1) {
      moved++;
    }
    seen.add(Math.round(p.x) + ',' + Math.round(p.y));
  }
  if (moved === 0) {
    toast('The steps are already tidy.');
    fit();
    return;
  }
  // Hand-made: at least two steps placed apart (not all on one spot, as
  // a journey written without positions is).
  if (nodes.length > 1 && seen.size > 1) {
    const ok = await ask({
      title: 'Tidy up the canvas?',
      text: 'Tidy up moves ' + moved + (moved === 1 ? ' step' : ' steps') + ' into layers, left to right, and replaces the arrangement you made. Ctrl+Z undoes it.',
      confirm: 'Tidy up',
      cancel: 'Keep my layout',
      testid: 'tidy',
    });
    if (!ok) {
      return;
    }
  }
  autoLayout();
  toast('Tidied up. Ctrl+Z undoes it.');
}

// cycle selects the next (step 1) or previous (-1) step, left to right.
export function cycle(step) {
  const nodes = graph.getNodes().slice().sort((a, b) => {
    const pa = a.getPosition();
    const pb = b.getPosition();
    return pa.x - pb.x || pa.y - pb.y;
  });
  if (nodes.length === 0) {
    return;
  }
  const cur = selectedNodes()[0];
  let i = cur ? nodes.indexOf(cur) + step : 0;
  i = (i + nodes.length) % nodes.length;
  selection.reset(nodes[i]);
  graph.centerCell(nodes[i]);
  announce(nodeLabel(nodes[i].id) + ' selected' + (readonly ? '' : '. C connects it'));
}

export function updateEmpty() {
  const el = $('#canvas-empty');
  if (el) {
    el.hidden = graph.getNodes().length > 0 || readonly;
  }
}
