// Waymark journey editor: the numbers. Fetches the journey's stats (the
// version viewed, or the live one) and shows each node's counters under
// it, each branch's share on its port labels, and the journey's totals in
// the strip above the canvas. The counters keep the same size on screen at
// any zoom (their font grows as the canvas zooms out, and their text gets
// shorter so it stays within its step), refresh every 30 seconds while the
// page is visible, and step aside while a simulation is shown (sim.js
// sends "waymark:simulation"). Everything reaches the DOM as text (X6's
// text attribute, textContent) — never innerHTML.
import { getJSON, postForm } from './api.js';
import { J } from './document.js';

// startStats shows the numbers on the editor ed (main.js) and refreshes
// them on demand.
export function startStats(ed) {
  const strip = document.getElementById('journey-stats');
  if (!strip || !ed || !ed.graph) {
    return;
  }
  const graph = ed.graph;
  const url = strip.getAttribute('data-stats-url');
  const errEl = document.getElementById('stats-error');
  const refresh = document.getElementById('stats-refresh');
  const quiet = { ignoreHistory: true, silent: false };
  const portTitles = new Map(); // "node\u0000port" -> the label before the share was added

  const fmt = new Intl.NumberFormat();
  const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
  function n(v) {
    return fmt.format(v || 0);
  }
  function pct(part, whole) {
    return whole > 0 ? Math.round((100 * part) / whole) + '%' : '–';
  }

  // The counters' size on screen: FONT px at any zoom up to ZOOM_MAX
  // times smaller (below that they shrink with the canvas).
  const FONT = 12.5;
  const ZOOM_MAX = 4;
  let zoom = graph.zoom();
  const last = new Map(); // node id -> its last stats
  let simulating = false;

  // nodeLine says a node's numbers in as many words as fit under the step
  // at the zoom: "120 entered · 3 waiting" from 75%, "120 in · 3 wait"
  // from 40%, "120" below.
  function nodeLine(s, z) {
    if (z < 0.4) {
      return compact.format(s.entered || 0);
    }
    const short = z < 0.75;
    const num = short ? (v) => compact.format(v) : n;
    const parts = [num(s.entered || 0) + (short ? ' in' : ' entered')];
    if (s.waiting) {
      parts.push(num(s.waiting) + (short ? ' wait' : ' waiting'));
    }
    if (s.failed) {
      parts.push(num(s.failed) + (short ? ' fail' : ' failed'));
    }
    if (s.skipped) {
      parts.push(num(s.skipped) + (short ? ' skip' : ' skipped'));
    }
    // A tracked email step, once a person opened or clicked: people's
    // unique opens and clicks (docs/engagement.md).
    const m = s.message;
    if (m && m.tracked && (m.opened > 0 || m.clicked > 0)) {
      parts.push(num(m.opened || 0) + (short ? ' open' : ' opened'), num(m.clicked || 0) + (short ? ' click' : ' clicked'));
    }
    return parts.join(' · ');
  }

  // statsAttrs draws the counters for zoom z: a font that is FONT px on
  // screen, a white halo so edges running under them do not cross the
  // text, and the same gap under every step.
  function statsAttrs(s, z, h) {
    const k = Math.min(ZOOM_MAX, Math.max(1, 1 / z));
    return {
      text: nodeLine(s, z),
      visibility: simulating ? 'hidden' : 'visible',
      fontSize: FONT * k,
      fontWeight: 600,
      fill: '#344054',
      stroke: '#ffffff',
      strokeWidth: 3 * k,
      paintOrder: 'stroke',
      strokeLinejoin: 'round',
      // Placed from the step's own height: X6's refDy measures from a box
      // that depends on the node's ports and on this text itself, which put
      // the numbers 30 to 75 px under different steps.
      refX: 0,
      refY: 0,
      refDy: null,
      x: 2,
      y: h + 6 + 9 * k,
      'data-entered': String(s.entered || 0),
      'data-waiting': String(s.waiting || 0),
      'data-failed': String(s.failed || 0),
      'data-opened': String((s.message && s.message.opened) || 0),
      'data-clicked': String((s.message && s.message.clicked) || 0),
    };
  }

  function showNode(s) {
    last.set(s.node_id, s);
    const node = graph.getCellById(s.node_id);
    if (!node || !node.isNode()) {
      return;
    }
    node.setAttrs({ stats: statsAttrs(s, zoom, node.getSize().height) }, quiet); // merged with the shape's own
    const ports = node.getPorts().filter((p) => p.group === 'out');
    if (ports.length < 2) {
      return;
    }
    let total = 0;
    for (const k in s.ports || {}) {
      total += s.ports[k];
    }
    for (const p of ports) {
      const name = p.id.slice('out:'.length);
      const key = s.node_id + '\u0000' + name;
      if (!portTitles.has(key)) {
        portTitles.set(key, node.getPortProp(p.id, 'attrs/text/text') || name);
      }
      const count = (s.ports || {})[name] || 0;
      const text = simulating ? portTitles.get(key) : portTitles.get(key) + ' · ' + pct(count, total);
      if (node.getPortProp(p.id, 'attrs/text/text') !== text) {
        node.setPortProp(p.id, 'attrs/text/text', text, quiet);
      }
    }
  }

  function redraw() {
    for (const s of last.values()) {
      showNode(s);
    }
  }

  // Zooming redraws the counters once it settles (a wheel zoom sends many
  // scale events), and only when their size or wording changes.
  let zoomTimer = 0;
  function bucket(z) {
    const k = Math.min(ZOOM_MAX, Math.max(1, 1 / z));
    return (z < 0.4 ? 'a' : z < 0.75 ? 'b' : 'c') + Math.round(k * 8);
  }
  graph.on('scale', ({ sx }) => {
    clearTimeout(zoomTimer);
    zoomTimer = setTimeout(() => {
      const before = bucket(zoom);
      zoom = sx;
      if (bucket(sx) !== before) {
        redraw();
      }
      strip.setAttribute('data-zoom-drawn', String(sx));
    }, 120);
  });

  // A simulation paints its own path: the live numbers step aside.
  const simNote = document.createElement('span');
  simNote.className = 'muted';
  simNote.hidden = true;
  simNote.setAttribute('data-testid', 'stats-sim-note');
  simNote.textContent = 'Live numbers are hidden while the simulation is shown.';
  strip.insertBefore(simNote, refresh);
  document.addEventListener('waymark:simulation', (e) => {
    const on = !!(e.detail && e.detail.active);
    if (on === simulating) {
      return;
    }
    simulating = on;
    simNote.hidden = !on;
    strip.toggleAttribute('data-simulating', on);
    redraw();
  });

  // What moved: runs a publish or a rollback brought here count with
  // their whole history (docs/analytics.md).
  const movedNote = document.createElement('span');
  movedNote.className = 'muted';
  movedNote.hidden = true;
  movedNote.setAttribute('data-testid', 'stats-moved-in');
  strip.insertBefore(movedNote, refresh);

  const updated = document.createElement('span');
  updated.className = 'muted small';
  updated.setAttribute('data-testid', 'stats-updated');
  updated.setAttribute('aria-live', 'off');
  strip.insertBefore(updated, refresh);

  function showJourney(j) {
    for (const el of strip.querySelectorAll('[data-stat]')) {
      const k = el.getAttribute('data-stat');
      let v = j[k];
      if (k === 'conversion_rate') {
        v = (Math.round((v || 0) * 1000) / 10) + '%';
      } else if (k === 'revenue') {
        v = (v || 0).toLocaleString(undefined, { maximumFractionDigits: 2 });
      } else {
        v = n(v);
      }
      el.textContent = v;
    }
  }

  let loading = false;
  let failures = 0;
  function load() {
    if (loading) {
      return Promise.resolve();
    }
    loading = true;
    refresh.disabled = true;
    return getJSON(url, 'could not load the numbers')
      .then((body) => {
        errEl.hidden = true;
        failures = 0;
        const j = body.journey || {};
        showJourney(j);
        zoom = graph.zoom();
        const messages = new Map((body.messages || []).map((m) => [m.node_id, m]));
        for (const s of body.nodes || []) {
          showNode(Object.assign({}, s, { message: messages.get(s.node_id) || null }));
        }
        const moved = j.moved_in || 0;
        const notes = [];
        if (moved > 0) {
          notes.push('Includes runs moved here from an earlier version (' + n(moved) +
            (moved === 1 ? ' move' : ' moves') + '): their earlier steps count here too.');
        }
        if (body.version > 0 && J && J.live_version > body.version) {
          notes.push('Runs a later publish moved on from v' + body.version + ' count on the version they were moved to.');
        }
        movedNote.hidden = notes.length === 0;
        movedNote.textContent = notes.join(' ');
        lastTry = Date.now();
        updated.textContent = 'Updated ' + new Date().toLocaleTimeString() + ' · refreshes every ' + autoSeconds() + ' s';
        strip.setAttribute('data-loaded', String(Date.now()));
      })
      .catch((e) => {
        failures++;
        errEl.textContent = 'Numbers: ' + e.message;
        errEl.hidden = false;
      })
      .finally(() => {
        loading = false;
        refresh.disabled = false;
      });
  }

  // Auto-refresh: every data-refresh-seconds (30) while the page is
  // visible and no simulation is shown; after failures it waits longer (up
  // to 8 times as long). Back on a page left for longer: at once.
  function autoSeconds() {
    const v = parseInt(strip.getAttribute('data-refresh-seconds') || '30', 10);
    return v > 0 ? v : 30;
  }
  let lastTry = Date.now();
  setInterval(() => {
    if (document.visibilityState !== 'visible' || simulating || loading) {
      return;
    }
    if (Date.now() - lastTry < autoSeconds() * 1000 * Math.min(8, 2 ** failures)) {
      return;
    }
    lastTry = Date.now();
    load();
    loadSplits();
  }, 1000);

  // Bandit splits: each variant's conversion with its 95% credible
  // interval, its probability of being best and its current share of the
  // traffic, with "Freeze winner" for editors (docs/intelligence.md).
  const splitsURL = url.replace('/stats.json', '/splits.json');
  const journeyBase = url.slice(0, url.indexOf('/stats.json'));
  let panel = null;

  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) {
      e.textContent = text;
    }
    for (const k in attrs || {}) {
      e.setAttribute(k, attrs[k]);
    }
    return e;
  }
  function rate(v) {
    return (Math.round((v || 0) * 1000) / 10) + '%';
  }

  function post(path, variant) {
    const body = new URLSearchParams();
    if (variant) {
      body.set('variant', variant);
    }
    return postForm(path, body, 'the change failed');
  }

  function splitBlock(sp, canFreeze) {
    const box = el('div', null, { class: 'bandit-split', 'data-testid': 'bandit-' + sp.node_id, 'data-node': sp.node_id });
    const title = 'Self-optimising split ' + (sp.title ? sp.title + ' (' + sp.node_id + ')' : sp.node_id);
    box.appendChild(el('h3', title));
    const table = el('table', null, { class: 'list' });
    const head = el('tr');
    for (const h of ['Variant', 'Runs', 'Converted', 'Rate (95% credible interval)', 'P(best)', 'Share now']) {
      head.appendChild(el('th', h, { scope: 'col' }));
    }
    table.appendChild(el('thead')).appendChild(head);
    const tbody = el('tbody');
    for (const a of sp.arms || []) {
      const tr = el('tr', null, { 'data-variant': a.name, 'data-share': String(a.share) });
      tr.appendChild(el('td', a.name));
      tr.appendChild(el('td', n(a.trials)));
      tr.appendChild(el('td', n(a.conversions)));
      tr.appendChild(el('td', rate(a.trials ? a.conversions / a.trials : 0) + ' (' + rate(a.low) + '–' + rate(a.high) + ')'));
      tr.appendChild(el('td', rate(a.prob_best)));
      tr.appendChild(el('td', rate(a.share), { 'data-testid': 'bandit-share' }));
      tbody.appendChild(tr);
    }
    table.appendChild(tbody);
    box.appendChild(table);
    const notes = [];
    if (sp.holdout_pct) {
      notes.push('Holdout ' + sp.holdout_pct + '%: ' + n(sp.holdout.runs) + ' runs, ' + n(sp.holdout.conversions) + ' converted.');
    }
    notes.push('Each variant keeps at least ' + rate(sp.min_share) + ' of the non-holdout traffic.');
    if (sp.frozen) {
      notes.push('Frozen on ' + sp.frozen + (sp.frozen_by ? ' by ' + sp.frozen_by : '') + ': every non-holdout run goes there.');
    }
    box.appendChild(el('p', notes.join(' '), { class: 'muted small', 'data-testid': 'bandit-note' }));
    if (canFreeze) {
      const btn = el('button', null, { type: 'button', class: 'button' });
      if (sp.frozen) {
        btn.textContent = 'Unfreeze (let the bandit decide)';
        btn.setAttribute('data-testid', 'bandit-unfreeze');
        btn.addEventListener('click', () => act(btn, journeyBase + '/splits/' + encodeURIComponent(sp.node_id) + '/unfreeze', ''));
      } else {
        btn.textContent = 'Freeze winner: ' + sp.leader;
        btn.setAttribute('data-testid', 'bandit-freeze');
        btn.addEventListener('click', () => {
          if (window.confirm('Send every non-holdout run of ' + sp.node_id + ' to ' + sp.leader + '?')) {
            act(btn, journeyBase + '/splits/' + encodeURIComponent(sp.node_id) + '/freeze', sp.leader);
          }
        });
      }
      box.appendChild(btn);
    }
    return box;
  }

  function act(btn, path, variant) {
    btn.disabled = true;
    post(path, variant)
      .then(loadSplits)
      .catch((e) => {
        errEl.textContent = 'Split: ' + e.message;
        errEl.hidden = false;
        btn.disabled = false;
      });
  }

  function loadSplits() {
    return getJSON(splitsURL, 'could not load the splits')
      .then((body) => {
        const splits = body.splits || [];
        if (!panel) {
          if (splits.length === 0) {
            return;
          }
          panel = el('section', null, { class: 'bandit-panel', 'data-testid': 'bandit-panel' });
          strip.parentNode.insertBefore(panel, strip.nextSibling);
        }
        panel.replaceChildren();
        for (const sp of splits) {
          panel.appendChild(splitBlock(sp, body.can_freeze));
        }
        panel.setAttribute('data-loaded', String(Date.now()));
      })
      .catch((e) => {
        errEl.textContent = 'Splits: ' + e.message;
        errEl.hidden = false;
      });
  }

  refresh.addEventListener('click', load);
  refresh.addEventListener('click', loadSplits);
  // The graph is drawn on the next frame; load once it is.
  requestAnimationFrame(() => requestAnimationFrame(() => {
    load();
    loadSplits();
  }));
}
