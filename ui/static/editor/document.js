// The journey document (format v1) and the edits on it: loading it into
// the canvas, reading it back for every save (toDocument), the edits a
// person makes (add, delete, copy, paste, nudge) and undo/redo. The X6
// cells are the document's drawing; this module is the only one that
// turns one into the other.

import { toast } from './dom.js';
import {
  graph, selection, history, quiet, NODE_W, nodeAttrs, portItems, portsOf, nodeHeight,
  paintState, titleView, selectedNodes, updateEmpty,
} from './canvas.js';
import { markDirty } from './save.js';
import { renderProblemsBar, renderNodeProblems, panelState, openNodePanel, closePanel } from './panel.js';

// ------------------------------------------------------------- the page

export let D = null; // the page's data (ui/web editorData)
export let J = null; // the journey: id, name, revision, status, readonly
export let readonly = true;
export let base = ''; // /journeys/{id}
export let specs = new Map(); // kind -> canvas spec (ports, summary, category)

// readPage reads the editor's data from its JSON script block.
export function readPage(dataEl) {
  D = JSON.parse(dataEl.textContent);
  J = D.journey;
  readonly = !!J.readonly;
  base = '/journeys/' + encodeURIComponent(J.id);
  specs = new Map(D.specs.map((s) => [s.kind, s]));
  settings = D.document.settings || {};
  journeyName = D.document.name || J.name || '';
  problems = D.problems || [];
}

export let settings = {};
export let journeyName = '';

export function setSettings(s) {
  settings = s;
}

export function setJourneyName(name) {
  journeyName = name;
}

// ------------------------------------------------------ document <-> cells

// Edges the canvas cannot draw (a node that does not exist, a port the
// node does not have) are kept as written, so a save never drops them;
// validation reports them.
let hiddenEdges = [];
// Likewise nodes the canvas cannot hold (a second node with the same id).
let hiddenNodes = [];

export function nodeMeta(n) {
  const data = { kind: n.kind, title: n.title || '', config: n.config || {}, ports: portsOf(n) };
  const spec = specs.get(n.kind);
  const ports = portsOf(data);
  const attrs = nodeAttrs(data);
  const h = attrs._height;
  delete attrs._height;
  return {
    id: n.id,
    shape: 'wm-node',
    x: n.position ? n.position.x : 0,
    y: n.position ? n.position.y : 0,
    width: NODE_W,
    height: h,
    data: data,
    attrs: attrs,
    ports: { items: portItems(spec, ports) },
  };
}

// resolvePort finds the port an edge without "port" leaves.
export function resolvePort(node, port) {
  if (port) {
    return port;
  }
  const spec = specs.get(node.kind);
  const ports = portsOf(node);
  if (spec && spec.default_port) {
    return spec.default_port;
  }
  return ports.length === 1 ? ports[0].name : '';
}

export function load(doc) {
  const byId = new Map();
  const nodes = [];
  hiddenNodes = [];
  for (const n of doc.nodes || []) {
    if (!n.id || byId.has(n.id)) {
      hiddenNodes.push(n); // reported by validation; kept as written
      continue;
    }
    const withPorts = Object.assign({}, n, { ports: (D.ports || {})[n.id] || [] });
    byId.set(n.id, withPorts);
    nodes.push(nodeMeta(withPorts));
  }
  const edges = [];
  hiddenEdges = [];
  (doc.edges || []).forEach((e, i) => {
    const from = byId.get(e.from);
    const to = byId.get(e.to);
    const port = from ? resolvePort(from, e.port) : '';
    const ports = portsOf(from);
    const toSpec = to ? specs.get(to.kind) : null;
    if (!from || !to || !port || !ports.some((p) => p.name === port) || (toSpec && toSpec.category === 'trigger') || e.from === e.to) {
      hiddenEdges.push(e);
      return;
    }
    edges.push({
      id: 'e' + i + '_' + e.from + '_' + port,
      shape: 'wm-edge',
      source: { cell: e.from, port: 'out:' + port },
      target: { cell: e.to, port: 'in' },
      data: { port: port, written: e.port || '' },
    });
  });
  graph.fromJSON({ nodes: nodes, edges: edges });
}

export function toDocument() {
  const nodes = graph.getNodes().map((n) => {
    const d = n.getData() || {};
    const p = n.getPosition();
    const out = { id: n.id, kind: d.kind, position: { x: Math.round(p.x), y: Math.round(p.y) } };
    if (d.title) {
      out.title = d.title;
    }
    if (d.config && Object.keys(d.config).length > 0) {
      out.config = d.config;
    }
    return out;
  });
  const edges = [];
  for (const e of graph.getEdges()) {
    const from = e.getSourceCellId();
    const to = e.getTargetCellId();
    const sp = e.getSourcePortId() || '';
    if (!from || !to || !sp.startsWith('out:')) {
      continue;
    }
    const port = sp.slice(4);
    const d = e.getData() || {};
    const src = graph.getCellById(from);
    const sd = src ? src.getData() : {};
    const ports = portsOf(sd);
    const edge = { from: from, to: to };
    // Keep an edge as it was written ("port" left out for the only or
    // default port), so loading and saving changes nothing.
    if (d.written === '' && d.port === port && resolvePort(sd, '') === port) {
      // leave port out
    } else if (ports.length === 1 && d.written === undefined) {
      // a new edge from a single-port node
    } else {
      edge.port = port;
    }
    edges.push(edge);
  }
  return {
    format: 1,
    name: journeyName,
    settings: settings,
    nodes: nodes.concat(hiddenNodes),
    edges: edges.concat(hiddenEdges),
  };
}

// restructure redraws a node's ports and size for new data. The
// structural changes are part of the user's change and go into the undo
// history; the rest (decorate) is decoration.
export function restructure(node, data) {
  const spec = specs.get(data.kind);
  const ports = portsOf(data);
  const want = portItems(spec, ports);
  const wantIds = new Set(want.map((p) => p.id));
  // Connections from ports that disappear go first.
  for (const e of graph.getConnectedEdges(node, { outgoing: true })) {
    if (!wantIds.has(e.getSourcePortId())) {
      graph.removeCell(e);
    }
  }
  const have = node.getPorts().map((p) => p.id);
  const same = have.length === want.length && have.every((id, i) => id === want[i].id);
  if (!same) {
    // rewrite: X6 would otherwise merge the lists, keeping a port
    // that went away (a holdout set back to 0).
    node.prop('ports/items', want, { rewrite: true });
  } else {
    want.forEach((p) => {
      if (p.group === 'out') {
        node.setPortProp(p.id, 'args', p.args);
        node.setPortProp(p.id, 'attrs/text/text', p.attrs.text.text);
      }
    });
  }
  const h = nodeHeight(ports);
  if (node.getSize().height !== h) {
    node.resize(NODE_W, h);
  }
}

// decorate redraws a node's texts from its data.
export function decorate(node) {
  const attrs = nodeAttrs(node.getData() || {});
  delete attrs._height;
  node.attr(attrs, quiet);
  paintState(node, true);
}

// applyNodeResult applies the server's reading of a node form (its
// title, config and ports) to the node.
export function applyNodeResult(r) {
  const node = graph.getCellById(r.node_id);
  if (!node || !node.isNode() || readonly) {
    return;
  }
  const old = node.getData() || {};
  const next = { kind: old.kind, title: r.title || '', config: r.config || {}, ports: r.ports || [] };
  if (JSON.stringify(old) === JSON.stringify(next)) {
    return;
  }
  graph.startBatch('apply');
  restructure(node, next);
  node.setData(next, { overwrite: true });
  graph.stopBatch('apply');
  decorate(node);
}

// applySettings takes the server's reading of the settings form.
export function applySettings(r) {
  if (r.applied && JSON.stringify(r.settings) !== JSON.stringify(settings)) {
    settings = r.settings;
    markDirty();
  }
}

// ------------------------------------------------------------ validation

export let problems = [];
export const problemsByNode = new Map();

export function problemText(p) {
  const field = p.label || p.field; // the field's labels, from the server
  return (field ? field + ': ' : '') + p.message;
}

// setProblems shows the server's validation of the last save.
export function setProblems(list) {
  problems = list || [];
  const before = new Set(problemsByNode.keys());
  problemsByNode.clear();
  for (const p of problems) {
    if (p.node_id) {
      if (!problemsByNode.has(p.node_id)) {
        problemsByNode.set(p.node_id, []);
      }
      problemsByNode.get(p.node_id).push(p);
    }
  }
  for (const id of new Set([...before, ...problemsByNode.keys()])) {
    const n = graph.getCellById(id);
    if (n && n.isNode()) {
      paintState(n);
      titleView(n);
    }
  }
  renderProblemsBar();
  renderNodeProblems();
}

// ------------------------------------------------------------ editing

function newId(kind) {
  for (let i = 1; ; i++) {
    const id = kind + '_' + i;
    if (!graph.getCellById(id)) {
      return id;
    }
  }
}

export function addNode(kind, x, y) {
  if (readonly || !specs.has(kind)) {
    return null;
  }
  const spec = specs.get(kind);
  // A new step starts with its kind's starter config (a split: A/B at
  // 50/50) and the ports the server computed for it.
  const config = spec.new_config ? JSON.parse(JSON.stringify(spec.new_config)) : {};
  const meta = nodeMeta({ id: newId(kind), kind: kind, title: '', config: config, ports: spec.new_ports, position: { x: Math.round(x / 10) * 10, y: Math.round(y / 10) * 10 } });
  const node = graph.addNode(meta);
  paintState(node);
  selection.reset(node);
  return node;
}

export function deleteSelection() {
  if (readonly) {
    return;
  }
  const cells = selection.getSelectedCells();
  if (cells.length === 0) {
    return;
  }
  graph.startBatch('delete');
  graph.removeCells(cells);
  graph.stopBatch('delete');
  toast(cells.length === 1 ? 'Deleted. Ctrl+Z undoes it.' : cells.length + ' items deleted. Ctrl+Z undoes it.');
}

let clipboard = null;
let pastes = 0;

export function copySelection() {
  const nodes = selectedNodes();
  if (nodes.length === 0) {
    return;
  }
  const ids = new Set(nodes.map((n) => n.id));
  clipboard = {
    nodes: nodes.map((n) => ({ id: n.id, data: JSON.parse(JSON.stringify(n.getData())), pos: n.getPosition() })),
    edges: graph.getEdges().filter((e) => ids.has(e.getSourceCellId()) && ids.has(e.getTargetCellId()))
      .map((e) => ({ from: e.getSourceCellId(), port: e.getSourcePortId(), to: e.getTargetCellId() })),
  };
  pastes = 0;
  toast(nodes.length === 1 ? 'Copied 1 step.' : 'Copied ' + nodes.length + ' steps.');
}

export function paste() {
  if (readonly || !clipboard) {
    return;
  }
  pastes++;
  const map = new Map();
  const added = [];
  graph.startBatch('paste');
  for (const n of clipboard.nodes) {
    const id = newId(n.data.kind);
    map.set(n.id, id);
    const meta = nodeMeta({ id: id, kind: n.data.kind, title: n.data.title, config: n.data.config, ports: n.data.ports, position: { x: n.pos.x + 40 * pastes, y: n.pos.y + 40 * pastes } });
    added.push(graph.addNode(meta));
  }
  for (const e of clipboard.edges) {
    graph.addEdge({
      shape: 'wm-edge',
      source: { cell: map.get(e.from), port: e.port },
      target: { cell: map.get(e.to), port: 'in' },
      data: { port: e.port.slice(4) },
    });
  }
  graph.stopBatch('paste');
  added.forEach(decorate);
  selection.reset(added);
}

// setConnections rewires a step's exits: targets maps an exit (port
// name) to the id of the step it leads to, or '' for none. One undoable
// change; returns how many exits changed.
export function setConnections(node, targets) {
  if (readonly) {
    return 0;
  }
  let changed = 0;
  graph.startBatch('connect');
  for (const [port, to] of Object.entries(targets)) {
    const portId = 'out:' + port;
    const edge = graph.getConnectedEdges(node, { outgoing: true }).find((e) => e.getSourcePortId() === portId);
    const now = edge ? edge.getTargetCellId() : '';
    if (now === to) {
      continue;
    }
    changed++;
    if (edge) {
      graph.removeCell(edge);
    }
    if (to && graph.getCellById(to) && to !== node.id) {
      graph.addEdge({
        shape: 'wm-edge',
        source: { cell: node.id, port: portId },
        target: { cell: to, port: 'in' },
        data: { port: port },
      });
    }
  }
  graph.stopBatch('connect');
  return changed;
}

export function selectAll() {
  selection.reset(graph.getNodes());
}

export function nudge(dx, dy) {
  const nodes = selectedNodes();
  if (readonly || nodes.length === 0) {
    return;
  }
  graph.startBatch('nudge');
  nodes.forEach((n) => n.translate(dx, dy));
  graph.stopBatch('nudge');
}

export function undo() {
  if (history && history.canUndo()) {
    history.undo();
  }
}

export function redo() {
  if (history && history.canRedo()) {
    history.redo();
  }
}

// watchEdits turns the graph's changes into document changes: every
// undoable change marks the journey dirty, undo and redo redraw what
// they touched, new connections remember their port.
export function watchEdits() {
  if (readonly) {
    return;
  }
  graph.on('history:change', ({ cmds }) => {
    if (cmds) {
      markDirty();
    }
  });
  const refresh = () => {
    graph.getNodes().forEach(decorate);
    const sel = selection.getSelectedCells().filter((c) => graph.getCellById(c.id));
    const ps = panelState();
    if (ps.mode === 'node' && ps.nodeId) {
      const n = graph.getCellById(ps.nodeId);
      if (n) {
        openNodePanel(n);
      } else {
        closePanel();
      }
    }
    if (sel.length !== selection.getSelectedCells().length) {
      selection.reset(sel);
    }
    updateEmpty();
  };
  graph.on('history:undo', refresh);
  graph.on('history:redo', refresh);
  graph.on('cell:change:data', ({ cell, options }) => {
    if (cell.isNode() && !(options && options.ignoreHistory)) {
      decorate(cell);
    }
  });
  graph.on('edge:connected', ({ edge, isNew }) => {
    if (isNew) {
      const port = (edge.getSourcePortId() || '').slice(4);
      edge.setData({ port: port }, { overwrite: true, ignoreHistory: true });
    }
  });
  graph.on('node:added', ({ node }) => {
    paintState(node);
    updateEmpty();
  });
  graph.on('node:removed', updateEmpty);
}

