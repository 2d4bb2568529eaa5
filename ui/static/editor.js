// Waymark journey editor: the canvas (AntV X6), the palette, autosave and
// the glue to the server-rendered panels (htmx).
//
// The journey document (format v1) is the model; X6 cells are only its
// drawing. toDocument() turns the cells back into a document for every
// save. User text (titles, config values) reaches the DOM through X6's
// text attribute or textContent only — never innerHTML. Forms come from
// the server, which escapes everything.
(function () {
  'use strict';

  const root = document.getElementById('editor');
  const dataEl = document.getElementById('editor-data');
  if (!root || !dataEl || !window.X6) {
    return;
  }
  const X6 = window.X6;
  const D = JSON.parse(dataEl.textContent);
  const J = D.journey;
  const readonly = !!J.readonly;
  const base = '/journeys/' + encodeURIComponent(J.id);
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : '';
  const specs = new Map(D.specs.map((s) => [s.kind, s]));

  const $ = (sel, el) => (el || document).querySelector(sel);
  const $$ = (sel, el) => Array.from((el || document).querySelectorAll(sel));

  // ---------------------------------------------------------------- geometry

  const NODE_W = 200;
  const HEAD_H = 64;
  const ROW_H = 24;
  const COLORS = { trigger: '#0e9384', flow: '#6172f3', action: '#dc6803', unknown: '#667085' };
  const ICONS = {
    trigger: 'M13 2 4 14h7l-1 8 9-12h-7l1-8z',
    flow: 'M6 3v12M18 9a3 3 0 1 0 0-6 3 3 0 0 0 0 6ZM6 21a3 3 0 1 0 0-6 3 3 0 0 0 0 6ZM18 9a9 9 0 0 1-9 9',
    action: 'm22 2-7 20-4-9-9-4 20-7zM22 2 11 13',
    unknown: 'M12 8v4M12 16h.01M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20z',
  };
  const STROKE = '#d0d5dd';
  const STROKE_SELECTED = '#2f5bea';
  const STROKE_INVALID = '#d92d20';

  function clip(s, n) {
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
  function portsOf(data) {
    return data && Array.isArray(data.ports) ? data.ports : [];
  }

  function nodeHeight(ports) {
    return ports.length > 1 ? HEAD_H + ports.length * ROW_H + 6 : HEAD_H;
  }

  function portY(i, n) {
    return n > 1 ? HEAD_H + i * ROW_H + ROW_H / 2 + 2 : HEAD_H / 2;
  }

  function portItems(spec, ports) {
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

  // Visual attributes derived from a node's data.
  function nodeAttrs(data) {
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
      divider: { d: ports.length > 1 ? 'M 1 ' + HEAD_H + ' H ' + (NODE_W - 1) : 'M 0 0' , visibility: ports.length > 1 ? 'visible' : 'hidden' },
      _height: h,
    };
  }

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
      // The node's numbers (editor_stats.js), under the node.
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

  X6.Graph.registerEdge('wm-edge', {
    inherit: 'edge',
    attrs: {
      line: { stroke: '#98a2b3', strokeWidth: 2, targetMarker: { name: 'block', width: 9, height: 7 } },
    },
    connector: { name: 'smooth', args: { direction: 'H' } },
    zIndex: -1,
  }, true);

  // -------------------------------------------------------------- the graph

  const canvasEl = $('#canvas');

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
  X6.Config.autoInsertCSS = false;

  let graph;
  let keyboard;
  let selection;
  let history = null;
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
      mousewheel: { enabled: true, modifiers: ['ctrl', 'meta'], factor: 1.1, minScale: 0.2, maxScale: 2 },
      scaling: { min: 0.2, max: 2 },
      connecting: {
        connector: { name: 'smooth', args: { direction: 'H' } },
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
        : { nodeMovable: true, edgeMovable: false, magnetConnectable: true, edgeLabelMovable: false, arrowheadMovable: false, vertexMovable: false, vertexAddable: false, vertexDeletable: false },
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

  const quiet = { ignoreHistory: true };

  function outgoing(node, portId) {
    return graph.getConnectedEdges(node, { outgoing: true }).find((e) => e.getSourcePortId() === portId);
  }

  // --------------------------------------------------- document <-> cells

  let settings = D.document.settings || {};
  let journeyName = D.document.name || J.name || '';
  // Edges the canvas cannot draw (a node that does not exist, a port the
  // node does not have) are kept as written, so a save never drops them;
  // validation reports them.
  let hiddenEdges = [];
  // Likewise nodes the canvas cannot hold (a second node with the same id).
  let hiddenNodes = [];

  function nodeMeta(n) {
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
  function resolvePort(node, port) {
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

  function load(doc) {
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

  function toDocument() {
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

  // refreshNode redraws a node from its data: texts, ports and size. The
  // structural changes (ports, size) are part of the user's change and go
  // into the undo history; the rest is decoration.
  function restructure(node, data) {
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

  function decorate(node) {
    const attrs = nodeAttrs(node.getData() || {});
    delete attrs._height;
    node.attr(attrs, quiet);
    paintState(node, true);
  }

  // ------------------------------------------------------------ validation

  let problems = D.problems || [];
  const problemsByNode = new Map();

  // paintState shows a node's selection and validity. It touches the
  // node only when that state changes (500-node journeys repaint often).
  const painted = new Map(); // node id -> "sel|bad"
  function paintState(node, force) {
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

  function setProblems(list) {
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

  // titleView gives an invalid node a tooltip listing its problems.
  function titleView(node) {
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

  function nodeLabel(id) {
    const n = graph.getCellById(id);
    if (!n || !n.isNode()) {
      return id;
    }
    const d = n.getData() || {};
    const spec = specs.get(d.kind);
    return d.title || (spec ? spec.title : id);
  }

  function problemText(p) {
    return (p.field ? p.field + ': ' : '') + p.message;
  }

  const problemsEl = $('#problems');
  const problemsToggle = $('#problems-toggle');
  const problemsList = $('#problems-list');

  function renderProblemsBar() {
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

  problemsToggle.addEventListener('click', () => {
    const open = problemsList.hidden;
    problemsList.hidden = !open;
    problemsToggle.setAttribute('aria-expanded', open ? 'true' : 'false');
  });

  function focusProblem(p) {
    if (p.node_id && graph.getCellById(p.node_id)) {
      focusNode(p.node_id, p.field);
    } else if ((p.field || '').startsWith('settings')) {
      openSettings();
    } else if (p.field === 'name') {
      $('#journey-name').focus();
    }
  }

  // ---------------------------------------------------------- save state

  const stateEl = $('#save-state');
  let revision = J.revision;
  let changes = 0; // bumped on every change; a save covers what it saw
  let savedChanges = 0;
  let saving = null;
  let saveTimer = null;
  let conflict = false;
  let leaving = false;

  function setState(state, text) {
    stateEl.setAttribute('data-state', state);
    stateEl.textContent = text;
  }

  function dirty() {
    return changes !== savedChanges;
  }

  function markDirty() {
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

  async function save() {
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
        res = await fetch(base + '/draft', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf },
          body: body,
          credentials: 'same-origin',
        });
      } catch (err) {
        setState('error', 'Not saved: offline? Retrying…');
        saveTimer = setTimeout(save, 5000);
        return;
      }
      let out = {};
      try {
        out = await res.json();
      } catch (err) {
        out = {};
      }
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
  async function flush() {
    clearTimeout(saveTimer);
    for (let i = 0; i < 5 && (dirty() || saving) && !conflict; i++) {
      await save();
    }
    return !dirty() && !conflict;
  }

  function setNameError(msg) {
    const el = $('#name-error');
    el.textContent = msg;
    el.hidden = !msg;
    $('#journey-name').setAttribute('aria-invalid', msg ? 'true' : 'false');
  }

  window.addEventListener('beforeunload', (e) => {
    if (!leaving && !readonly && !conflict && (dirty() || saving)) {
      e.preventDefault();
      e.returnValue = '';
    }
  });

  // ------------------------------------------------------------ the panel

  const panelEmpty = $('#panel-empty');
  const panelBody = $('#panel-body');
  let panelNodeId = null;
  let panelMode = null; // 'node', 'settings', 'multi'
  let pendingFocusField = null;

  function showPanel(mode) {
    panelMode = mode;
    panelEmpty.hidden = mode !== null;
    panelBody.hidden = mode === null;
  }

  function closePanel() {
    panelNodeId = null;
    showPanel(null);
    panelBody.replaceChildren();
  }

  function openNodePanel(node) {
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

  function openSettings() {
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

  function renderNodeProblems() {
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

  // The server's answer to a form change: apply the config it read.
  function applyNodeResult(r) {
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
          const res = await fetch(base + '/panel/preview', {
            method: 'POST',
            headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json', 'X-CSRF-Token': csrf },
            body: body,
          });
          if (!res.ok) {
            return;
          }
          const out = await res.json();
          preview.replaceChildren();
          const label = document.createElement('span');
          label.className = 'preview-label';
          label.textContent = 'Preview for the sample profile';
          const text = document.createElement(out.error ? 'p' : 'pre');
          text.className = out.error ? 'preview-error' : 'preview-text';
          text.textContent = out.error || out.preview;
          preview.append(label, text);
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
        const r = JSON.parse(sres.getAttribute('data-result'));
        if (r.applied && JSON.stringify(r.settings) !== JSON.stringify(settings)) {
          settings = r.settings;
          markDirty();
        }
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
      const r = JSON.parse(el.getAttribute('data-result'));
      if (r.applied && JSON.stringify(r.settings) !== JSON.stringify(settings)) {
        settings = r.settings;
        markDirty();
      }
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

  // ---------------------------------------------------------- selection

  function selectedNodes() {
    return selection.getSelectedCells().filter((c) => c.isNode());
  }

  graph.on('selection:changed', ({ added, removed }) => {
    for (const c of added.concat(removed)) {
      if (c.isNode()) {
        paintState(c);
      } else if (c.isEdge()) {
        c.attr('line/stroke', selection.isSelected(c) ? STROKE_SELECTED : '#98a2b3', quiet);
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

  function focusNode(id, field) {
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

  // ------------------------------------------------------------ editing

  function newId(kind) {
    for (let i = 1; ; i++) {
      const id = kind + '_' + i;
      if (!graph.getCellById(id)) {
        return id;
      }
    }
  }

  function addNode(kind, x, y) {
    if (readonly || !specs.has(kind)) {
      return null;
    }
    const meta = nodeMeta({ id: newId(kind), kind: kind, title: '', config: {}, ports: specs.get(kind).new_ports, position: { x: Math.round(x / 10) * 10, y: Math.round(y / 10) * 10 } });
    const node = graph.addNode(meta);
    paintState(node);
    selection.reset(node);
    return node;
  }

  function deleteSelection() {
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

  function copySelection() {
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

  function paste() {
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

  function selectAll() {
    selection.reset(graph.getNodes());
  }

  function nudge(dx, dy) {
    const nodes = selectedNodes();
    if (readonly || nodes.length === 0) {
      return;
    }
    graph.startBatch('nudge');
    nodes.forEach((n) => n.translate(dx, dy));
    graph.stopBatch('nudge');
  }

  function cycle(step) {
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
    announce(nodeLabel(nodes[i].id) + ' selected');
  }

  function announce(text) {
    canvasEl.setAttribute('aria-label', 'Journey canvas. ' + text + '.');
  }

  function undo() {
    if (history && history.canUndo()) {
      history.undo();
    }
  }

  function redo() {
    if (history && history.canRedo()) {
      history.redo();
    }
  }

  // ------------------------------------------------------- layout & view

  const zoomEl = $('#zoom-level');
  function showZoom() {
    zoomEl.textContent = Math.round(graph.zoom() * 100) + '%';
  }
  graph.on('scale', showZoom);

  function zoomBy(f) {
    const z = Math.min(2, Math.max(0.2, graph.zoom() * f));
    graph.zoomTo(z, { center: graph.getGraphArea().getCenter() });
    showZoom();
  }

  // initialView fits the journey on screen when it stays readable;
  // a journey too big for that opens at a readable zoom on its trigger.
  function initialView() {
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
    const start = nodes.find((n) => {
      const sp = specs.get((n.getData() || {}).kind);
      return sp && sp.category === 'trigger';
    }) || nodes[0];
    const p = start.getPosition();
    const z = 0.8;
    graph.zoomTo(z);
    graph.translate(60 - p.x * z, h / 2 - (p.y + start.getSize().height / 2) * z);
    showZoom();
  }

  function fit() {
    if (graph.getNodes().length === 0) {
      graph.zoomTo(1);
      graph.translate(40, 40);
    } else {
      graph.zoomToFit({ padding: 48, maxScale: 1, minScale: 0.2 });
    }
    showZoom();
  }

  // autoLayout: a layered layout, left to right. Layers are longest paths
  // from the triggers (back edges of loops ignored); in each layer a node
  // sits near its parents, in the order of their ports.
  function autoLayout() {
    const nodes = graph.getNodes();
    if (readonly || nodes.length === 0) {
      return;
    }
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
    // DFS from roots to find back edges.
    const state = new Map();
    const back = new Set();
    const order = [];
    const isTrigger = (id) => {
      const d = graph.getCellById(id).getData() || {};
      const sp = specs.get(d.kind);
      return sp && sp.category === 'trigger';
    };
    const dfs = (id) => {
      state.set(id, 1);
      for (const { to } of out.get(id)) {
        if (state.get(to) === 1) {
          back.add(id + '>' + to);
        } else if (!state.has(to)) {
          dfs(to);
        }
      }
      state.set(id, 2);
      order.push(id);
    };
    for (const e of graph.getEdges()) {
      const t = e.getTargetCellId();
      if (indeg.has(t)) {
        indeg.set(t, indeg.get(t) + 1);
      }
    }
    const byPos = nodes.slice().sort((a, b) => a.getPosition().y - b.getPosition().y);
    const roots = byPos.filter((n) => isTrigger(n.id)).concat(byPos.filter((n) => !isTrigger(n.id) && indeg.get(n.id) === 0));
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
      for (const w of want) {
        const h = graph.getCellById(w.id).getSize().height;
        const top = Math.max(w.y - h / 2, bottom + GAP_Y);
        y.set(w.id, top);
        bottom = top + h;
      }
      layers[l] = want.map((w) => w.id);
    });
    graph.startBatch('layout');
    layers.forEach((ids, l) => {
      ids.forEach((id) => {
        const n = graph.getCellById(id);
        n.position(60 + l * (NODE_W + GAP_X), Math.round(y.get(id) / 10) * 10 + 60);
      });
    });
    graph.stopBatch('layout');
    fit();
  }

  const emptyEl = $('#canvas-empty');
  function updateEmpty() {
    emptyEl.hidden = graph.getNodes().length > 0 || readonly;
  }

  // -------------------------------------------------------------- toasts

  const toastEl = $('#toast');
  let toastTimer = null;
  function toast(msg) {
    toastEl.textContent = msg;
    toastEl.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { toastEl.hidden = true; }, 3500);
  }

  // ------------------------------------------------------------ publish

  const publishDialog = $('#publish-dialog');

  async function openPublish() {
    if (readonly) {
      return;
    }
    setState(stateEl.getAttribute('data-state'), dirty() ? 'Saving…' : stateEl.textContent);
    const ok = await flush();
    if (!ok) {
      if (!conflict) {
        toast('Save the journey first: ' + stateEl.textContent);
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

  publishDialog.addEventListener('click', (e) => {
    const t = e.target.closest('button');
    if (!t) {
      return;
    }
    if (t.matches('[data-action="close-dialog"]')) {
      publishDialog.close();
      if ($('#publish-done', publishDialog)) {
        leaving = true;
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

  // ------------------------------------------------------------ conflict

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
      const res = await fetch('/journeys/copy', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf },
        body: JSON.stringify({ revision: revision, document: toDocument() }),
      });
      const out = await res.json().catch(() => ({}));
      if (res.ok && out.url) {
        leaving = true;
        location.href = out.url;
      } else {
        t.disabled = false;
        $('#conflict-message').textContent = (out.error && out.error.message) || 'The copy could not be saved.';
      }
    }
  });

  // ------------------------------------------------------------- wiring

  let loading = true;
  graph.on('view:mounted', ({ view }) => {
    markView(view);
    if (view.cell.isNode() && problemsByNode.has(view.cell.id)) {
      titleView(view.cell);
    }
  });
  load(D.document);
  graph.getNodes().forEach((n) => painted.set(n.id, ''));
  setProblems(problems);
  if (history) {
    history.clean();
  }
  loading = false;

  if (!readonly) {
    graph.on('history:change', ({ cmds }) => {
      if (cmds) {
        markDirty();
      }
    });
    const refresh = () => {
      graph.getNodes().forEach(decorate);
      const sel = selection.getSelectedCells().filter((c) => graph.getCellById(c.id));
      if (panelMode === 'node' && panelNodeId) {
        const n = graph.getCellById(panelNodeId);
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
  graph.on('node:dblclick', () => {
    const first = panelBody.querySelector('input:not([type=hidden]):not([readonly]), select, textarea');
    if (first) {
      first.focus();
    }
  });

  // Keyboard (when the canvas has focus).
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
    bind(['shift+l'], autoLayout);
    bind(['up'], () => nudge(0, -10));
    bind(['down'], () => nudge(0, 10));
    bind(['left'], () => nudge(-10, 0));
    bind(['right'], () => nudge(10, 0));
  }
  bind(['ctrl+a', 'meta+a'], selectAll);
  bind([']'], () => cycle(1));
  bind(['['], () => cycle(-1));
  bind(['ctrl+=', 'meta+=', 'ctrl+plus', '=', '+'], () => zoomBy(1.2));
  bind(['ctrl+-', 'meta+-', '-'], () => zoomBy(1 / 1.2));
  bind(['shift+1', 'f'], fit);
  bind(['escape'], () => selection.clean());
  bind(['enter'], () => {
    const first = panelBody.querySelector('input:not([type=hidden]), select, textarea');
    if (first) {
      first.focus();
    }
  });
  bind(['?', 'shift+/'], () => {
    selection.clean();
    closePanel();
    $('.shortcuts').scrollIntoView();
  });

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
      case 'layout': autoLayout(); break;
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
    journeyName = nameInput.value;
    if (journeyName.trim() === '') {
      setNameError('The journey needs a name.');
    } else {
      setNameError('');
    }
    markDirty();
  });

  // Status forms (pause, resume, archive) save pending changes first.
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

  updateEmpty();
  showZoom();
  requestAnimationFrame(() => {
    initialView();
    // Tests and the benchmark wait for this.
    window.waymarkEditor.ready = true;
    performance.mark('waymark-editor-ready');
  });

  window.waymarkEditor = {
    graph: graph,
    toDocument: toDocument,
    flush: flush,
    autoLayout: autoLayout,
    addNode: addNode,
    state: () => ({ revision: revision, dirty: dirty(), conflict: conflict, problems: problems }),
    ready: false,
  };
})();
