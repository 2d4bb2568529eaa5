// Waymark journey editor: the numbers. Fetches the journey's stats (the
// version viewed, or the live one) and shows each node's counters under
// it, each branch's share on its port labels, and the journey's totals in
// the strip above the canvas. Everything reaches the DOM as text (X6's
// text attribute, textContent) — never innerHTML.
(function () {
  'use strict';

  const strip = document.getElementById('journey-stats');
  const ed = window.waymarkEditor;
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
  function n(v) {
    return fmt.format(v || 0);
  }
  function pct(part, whole) {
    return whole > 0 ? Math.round((100 * part) / whole) + '%' : '–';
  }

  function nodeLine(s) {
    const parts = [n(s.entered) + ' entered'];
    if (s.waiting) {
      parts.push(n(s.waiting) + ' waiting');
    }
    if (s.failed) {
      parts.push(n(s.failed) + ' failed');
    }
    if (s.skipped) {
      parts.push(n(s.skipped) + ' skipped');
    }
    return parts.join(' · ');
  }

  function showNode(s) {
    const node = graph.getCellById(s.node_id);
    if (!node || !node.isNode()) {
      return;
    }
    node.attr('stats/text', nodeLine(s), quiet);
    node.attr('stats/data-entered', String(s.entered || 0), quiet);
    node.attr('stats/data-waiting', String(s.waiting || 0), quiet);
    node.attr('stats/data-failed', String(s.failed || 0), quiet);
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
      node.setPortProp(p.id, 'attrs/text/text', portTitles.get(key) + ' · ' + pct(count, total), quiet);
    }
  }

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

  function load() {
    refresh.disabled = true;
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then((r) => r.json().then((body) => ({ ok: r.ok, body: body })))
      .then((res) => {
        if (!res.ok) {
          throw new Error((res.body && res.body.error && res.body.error.message) || 'could not load the numbers');
        }
        errEl.hidden = true;
        showJourney(res.body.journey || {});
        for (const s of res.body.nodes || []) {
          showNode(s);
        }
        strip.setAttribute('data-loaded', String(Date.now()));
      })
      .catch((e) => {
        errEl.textContent = 'Numbers: ' + e.message;
        errEl.hidden = false;
      })
      .finally(() => {
        refresh.disabled = false;
      });
  }

  refresh.addEventListener('click', load);
  // The graph is drawn on the next frame; load once it is.
  requestAnimationFrame(() => requestAnimationFrame(load));
})();
