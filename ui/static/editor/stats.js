// Waymark journey editor: the numbers. Fetches the journey's stats (the
// version viewed, or the live one) and shows each node's counters under
// it, each branch's share on its port labels, and the journey's totals in
// the strip above the canvas. Everything reaches the DOM as text (X6's
// text attribute, textContent) — never innerHTML.
import { getJSON, postForm } from './api.js';

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
    getJSON(url, 'could not load the numbers')
      .then((body) => {
        errEl.hidden = true;
        showJourney(body.journey || {});
        for (const s of body.nodes || []) {
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
