// Waymark journey editor: the simulator. The Simulate dialog sends the
// canvas (or the version viewed) with the chosen profiles and scripted
// events to POST /journeys/{id}/simulate; the result is a complete timeline
// per profile, which this panel plays on the canvas step by step (Previous /
// Next) or all at once (the end, shown first). Nodes get data-sim="visited",
// "current" or "unvisited" on their SVG group (X6's root selector), edges
// taken data-sim="visited". Steps and paths are named by the steps' titles
// (ids in tooltips), statuses in words; while the result is shown the live
// numbers step aside (the "waymark:simulation" event, stats.js).
// Everything reaches the DOM as text (textContent) — never innerHTML.
import { request, readJSON } from './api.js';
import { specs } from './document.js';

// Run statuses in words, as the run pages say them (ui/views/words.go).
const STATUS_WORDS = {
  active: 'Running', waiting: 'Waiting', waiting_event: 'Waiting for an event', paused: 'Paused',
  completed: 'Completed', exited: 'Exited', failed: 'Failed',
};
export function statusText(s) {
  return STATUS_WORDS[s] || s;
}

// startSim wires the Simulate dialog to the editor ed (main.js).
export function startSim(ed) {
  const openBtn = document.getElementById('open-simulate');
  const dialog = document.getElementById('sim-dialog');
  const panel = document.getElementById('sim-results');
  if (!ed || !ed.graph || !openBtn || !dialog || !panel) {
    return;
  }
  const graph = ed.graph;
  const $ = (id) => document.getElementById(id);
  const url = openBtn.getAttribute('data-simulate-url');
  const version = parseInt(openBtn.getAttribute('data-version') || '0', 10);

  const form = $('sim-form');
  const errEl = $('sim-error');
  const eventsEl = $('sim-events');
  const rowTpl = $('sim-event-row');
  const profileSel = $('sim-profile');
  const runSel = $('sim-run-pick');
  const timeline = $('sim-timeline');
  const position = $('sim-position');

  let result = null; // the last simulation
  let steps = []; // the steps being played
  let index = -1; // the current step
  let pathSteps = null; // a cohort path picked in the table (node:port list)

  // stepTitle names a step as the canvas does: its title, else its kind's.
  function stepTitle(id) {
    const node = graph.getCellById(id);
    if (!node || !node.isNode()) {
      return id;
    }
    const d = node.getData() || {};
    const spec = specs.get(d.kind);
    return d.title || (spec && spec.title) || id;
  }

  // portTitle is an exit's label on the canvas ("Yes"), without the share
  // stats.js may have added to it.
  function portTitle(id, port) {
    const node = graph.getCellById(id);
    let t = '';
    if (node && node.isNode() && node.hasPort('out:' + port)) {
      t = String(node.getPortProp('out:' + port, 'attrs/text/text') || '');
    }
    return t.replace(/ · (\d+%|–)$/, '') || port;
  }

  // exitName is the exit a step left through as the canvas labels it
  // ("Yes"), or '' for the usual way on ("out", or a step's only exit).
  function exitName(id, port) {
    if (!port || port === 'out') {
      return '';
    }
    const node = graph.getCellById(id);
    if (!node || !node.isNode() || node.getPorts().filter((p) => p.group === 'out').length < 2) {
      return '';
    }
    return portTitle(id, port);
  }

  // pathText says a path ("trigger:out", "cond:yes", "done:") by titles:
  // "Webhook → Condition (Yes) → Exit". A step passed twice in a row (a
  // send deferred by quiet hours, then sent) is named once, with the exit
  // it finally took.
  function pathText(path) {
    const out = [];
    let prev = null;
    for (const s of path) {
      const i = s.lastIndexOf(':');
      const id = i < 0 ? s : s.slice(0, i);
      const exit = exitName(id, i < 0 ? '' : s.slice(i + 1));
      const text = stepTitle(id) + (exit ? ' (' + exit + ')' : '');
      if (id === prev) {
        out[out.length - 1] = text;
      } else {
        out.push(text);
      }
      prev = id;
    }
    return out.join(' → ');
  }

  function simulationShown(active) {
    document.dispatchEvent(new CustomEvent('waymark:simulation', { detail: { active: active } }));
  }

  // ------------------------------------------------------------ the dialog

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) {
      e.className = cls;
    }
    if (text !== undefined && text !== null) {
      e.textContent = String(text);
    }
    return e;
  }

  function source() {
    const r = form.querySelector('input[name="sim-source"]:checked');
    return r ? r.value : 'sample';
  }

  function showSource() {
    const s = source();
    for (const c of form.querySelectorAll('.sim-choice')) {
      c.hidden = c.getAttribute('data-source') !== s;
    }
  }

  function addEventRow() {
    const li = rowTpl.content.firstElementChild.cloneNode(true);
    li.querySelector('.sim-ev-remove').addEventListener('click', () => li.remove());
    eventsEl.appendChild(li);
    li.querySelector('.sim-ev-name').focus();
  }

  function showErrors(message, details) {
    errEl.textContent = '';
    errEl.appendChild(el('p', null, message));
    if (details && details.length) {
      const ul = el('ul');
      for (const d of details) {
        const where = [d.node_id ? stepTitle(d.node_id) : '', d.field || ''].filter(Boolean).join(' · ');
        ul.appendChild(el('li', null, (where ? where + ': ' : '') + d.message));
      }
      errEl.appendChild(ul);
    }
    errEl.hidden = false;
  }

  function parseJSON(text, what) {
    try {
      return JSON.parse(text);
    } catch (e) {
      throw new Error(what + ' is not valid JSON: ' + e.message);
    }
  }

  function buildRequest() {
    const req = {};
    if (version > 0) {
      req.version = version;
    } else {
      req.document = ed.toDocument();
    }
    const s = source();
    if (s === 'sample') {
      const v = parseJSON($('sim-sample').value, 'The sample profile');
      req.profiles = Array.isArray(v) ? v : [v];
    } else if (s === 'existing') {
      req.profile_ids = $('sim-existing').value.split(',').map((x) => x.trim()).filter(Boolean);
    } else {
      req.cohort = { size: parseInt($('sim-cohort-size').value, 10) || 0, seed: parseInt($('sim-cohort-seed').value, 10) || 0 };
      const attrs = $('sim-cohort-attrs').value.trim();
      if (attrs) {
        req.cohort.attributes = parseJSON(attrs, 'The cohort attributes');
      }
    }
    const entry = $('sim-entry').value.trim();
    if (entry) {
      req.entry = parseJSON(entry, 'The entry event');
    }
    req.events = [];
    for (const li of eventsEl.querySelectorAll('.sim-event')) {
      const name = li.querySelector('.sim-ev-name').value.trim();
      const after = li.querySelector('.sim-ev-after').value.trim();
      const profile = li.querySelector('.sim-ev-profile').value.trim();
      const props = li.querySelector('.sim-ev-props').value.trim();
      if (!name && !after && !props) {
        continue;
      }
      const ev = { name: name, after: after };
      if (profile) {
        ev.profile = profile;
      }
      if (props) {
        ev.properties = parseJSON(props, 'The properties of event "' + name + '"');
      }
      req.events.push(ev);
    }
    const horizon = $('sim-horizon').value.trim();
    if (horizon) {
      req.horizon = horizon;
    }
    const start = $('sim-start').value.trim();
    if (start) {
      req.start = start;
    }
    return req;
  }

  async function run(e) {
    e.preventDefault();
    errEl.hidden = true;
    let req;
    try {
      req = buildRequest();
    } catch (err) {
      showErrors(err.message);
      return;
    }
    const btn = $('sim-run');
    btn.disabled = true;
    btn.textContent = 'Simulating…';
    try {
      const res = await request(url, { method: 'POST', json: req });
      const out = await readJSON(res);
      if (!res.ok) {
        const er = out.error || {};
        showErrors(er.message || 'The simulation failed (' + res.status + ').', er.details);
        return;
      }
      dialog.close();
      show(out);
    } catch (err) {
      showErrors('The simulation could not be sent: ' + err.message);
    } finally {
      btn.disabled = false;
      btn.textContent = 'Run simulation';
    }
  }

  // ------------------------------------------------------------ the panel

  function show(res) {
    simulationShown(true);
    result = res;
    pathSteps = null;
    const parts = [
      res.profile_count + (res.profile_count === 1 ? ' profile' : ' profiles'),
      res.entered + ' entered',
      res.messages + (res.messages === 1 ? ' message' : ' messages') + ' rendered, none sent',
    ];
    if (res.stopped === 'horizon') {
      parts.push('stopped at the horizon (' + res.horizon + ')');
    } else if (res.stopped !== 'done') {
      parts.push('stopped early: ' + res.stopped);
    }
    $('sim-summary').textContent = parts.join(' · ');
    profileSel.textContent = '';
    res.timelines.forEach((tl, i) => {
      const label = tl.external_id + (tl.runs.length ? ' — ' + tl.runs.map((r) => statusText(r.status)).join(', ') : ' — did not enter');
      const o = el('option', null, label);
      o.value = String(i);
      profileSel.appendChild(o);
    });
    showPaths(res);
    panel.hidden = false;
    panel.setAttribute('data-loaded', String(Date.now()));
    pickProfile(0);
  }

  function showPaths(res) {
    const box = $('sim-paths');
    const body = $('sim-paths-body');
    body.textContent = '';
    box.hidden = res.profile_count < 2;
    for (const p of res.paths) {
      const tr = el('tr');
      tr.tabIndex = 0;
      tr.setAttribute('data-testid', 'sim-path');
      tr.appendChild(el('td', 'num', p.runs));
      tr.appendChild(el('td', 'num', Math.round(p.share * 1000) / 10 + '%'));
      const cell = el('td', null, pathText(p.path));
      cell.title = p.path.map((s) => s.replace(/:$/, '')).join(' → '); // ids, for support
      tr.appendChild(cell);
      const pick = () => {
        for (const r of body.querySelectorAll('tr')) {
          r.removeAttribute('aria-selected');
        }
        tr.setAttribute('aria-selected', 'true');
        pathSteps = p.path.map((s) => {
          const i = s.lastIndexOf(':');
          return { node_id: s.slice(0, i), port: s.slice(i + 1) };
        });
        highlight(pathSteps, pathSteps.length - 1);
      };
      tr.addEventListener('click', pick);
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') {
          pick();
        }
      });
      body.appendChild(tr);
    }
  }

  function pickProfile(i) {
    const tl = result.timelines[i];
    runSel.textContent = '';
    if (!tl) {
      steps = [];
      render(-1);
      return;
    }
    tl.runs.forEach((r, k) => {
      const o = el('option', null, 'Run ' + (k + 1) + ' (' + statusText(r.status) + ')');
      o.value = String(k);
      runSel.appendChild(o);
    });
    runSel.disabled = tl.runs.length < 2;
    pickRun(0);
  }

  function pickRun(k) {
    const tl = result.timelines[parseInt(profileSel.value || '0', 10)];
    const r = tl && tl.runs[k];
    steps = r ? r.steps : [];
    timeline.textContent = '';
    if (!r) {
      timeline.appendChild(el('li', 'sim-none', tl && tl.not_entered ? 'Did not enter: ' + tl.not_entered : 'No run.'));
      render(-1);
      return;
    }
    const bySeq = new Map();
    for (const m of r.messages) {
      if (!bySeq.has(m.seq)) {
        bySeq.set(m.seq, []);
      }
      bySeq.get(m.seq).push(m);
    }
    steps.forEach((s, i) => {
      const li = el('li', 'sim-step');
      li.setAttribute('data-step', String(i));
      li.setAttribute('data-node', s.node_id);
      li.setAttribute('data-outcome', s.outcome);
      const head = el('div', 'sim-step-head');
      head.appendChild(el('span', 'sim-offset', s.offset));
      const name = el('strong', null, s.title || stepTitle(s.node_id));
      name.title = s.node_id;
      head.appendChild(name);
      const exit = exitName(s.node_id, s.port);
      if (exit) {
        head.appendChild(el('span', 'sim-port', exit));
      }
      li.appendChild(head);
      li.appendChild(el('div', 'sim-summary', s.summary));
      for (const m of bySeq.get(s.seq) || []) {
        const box = el('div', 'sim-message');
        box.setAttribute('data-testid', 'sim-message');
        box.appendChild(el('div', 'sim-msg-head', m.kind.replace('send_', '') + ' via ' + m.connector + ' to ' + (m.to || '—')));
        if (m.subject) {
          box.appendChild(el('div', 'sim-msg-subject', m.subject));
        }
        const text = m.body || (m.payload ? JSON.stringify(m.payload) : '');
        if (m.kind === 'send_email' && m.body) {
          // An email's HTML is shown rendered, as the recipient sees it, in
          // a sandboxed frame (no scripts, no same-origin access); its
          // source stays one click away.
          const frame = document.createElement('iframe');
          frame.className = 'sim-msg-frame';
          frame.setAttribute('sandbox', '');
          frame.setAttribute('referrerpolicy', 'no-referrer');
          frame.setAttribute('data-testid', 'sim-message-frame');
          frame.title = 'Email: ' + (m.subject || '');
          frame.srcdoc = m.body;
          box.appendChild(frame);
          const src = el('details', 'sim-msg-source');
          src.appendChild(el('summary', null, 'HTML source'));
          src.appendChild(el('pre', 'sim-msg-body', m.body));
          box.appendChild(src);
        } else if (text) {
          box.appendChild(el('pre', 'sim-msg-body', text));
        }
        li.appendChild(box);
      }
      li.addEventListener('click', () => render(i));
      timeline.appendChild(li);
    });
    if (r.status === 'waiting' || r.status === 'waiting_event') {
      timeline.appendChild(el('li', 'sim-none', 'Still waiting at ' + stepTitle(r.current_node) + (r.wait_until ? ' until ' + r.wait_until : '') + ' when the simulation ended.'));
    } else if (r.error) {
      timeline.appendChild(el('li', 'sim-none', statusText(r.status) + ': ' + r.error));
    }
    // Jump to the end: the whole path; Previous / Next play it step by step.
    render(steps.length - 1);
  }

  function render(i) {
    pathSteps = null;
    index = Math.max(-1, Math.min(i, steps.length - 1));
    for (const li of timeline.querySelectorAll('.sim-step')) {
      const k = parseInt(li.getAttribute('data-step'), 10);
      li.setAttribute('data-state', k < index ? 'done' : k === index ? 'current' : 'future');
      if (k === index) {
        li.setAttribute('aria-current', 'step');
        li.scrollIntoView({ block: 'nearest' });
      } else {
        li.removeAttribute('aria-current');
      }
    }
    position.textContent = steps.length ? 'Step ' + (index + 1) + ' of ' + steps.length : '';
    $('sim-prev').disabled = index <= 0;
    $('sim-first').disabled = index <= 0;
    $('sim-next').disabled = index >= steps.length - 1;
    $('sim-last').disabled = index >= steps.length - 1;
    highlight(steps, index);
  }

  // highlight marks the nodes and edges of steps[0..upto] on the canvas.
  function highlight(list, upto) {
    const visited = new Map(); // node id -> "visited" | "current"
    const edges = new Set(); // "from\u0000port\u0000to"
    for (let k = 0; k <= upto && k < list.length; k++) {
      visited.set(list[k].node_id, k === upto ? 'current' : 'visited');
      if (k > 0 && list[k - 1].port) {
        edges.add(list[k - 1].node_id + '\u0000' + list[k - 1].port + '\u0000' + list[k].node_id);
      }
    }
    // A node visited earlier and current again (a loop) stays current.
    if (upto >= 0 && upto < list.length) {
      visited.set(list[upto].node_id, 'current');
    }
    // Marks live in the cells' attrs (on their root <g>), so a node that
    // X6 mounts later (virtual rendering) gets its mark too. Never in the
    // undo history, never in the document.
    for (const node of graph.getNodes()) {
      mark(node, visited.get(node.id) || 'unvisited');
    }
    for (const edge of graph.getEdges()) {
      const port = (edge.getSourcePortId() || '').replace(/^out:/, '');
      const key = edge.getSourceCellId() + '\u0000' + port + '\u0000' + edge.getTargetCellId();
      mark(edge, edges.has(key) ? 'visited' : null);
    }
    document.getElementById('canvas').setAttribute('data-simulating', 'true');
  }

  const quiet = { ignoreHistory: true };
  function mark(cell, state) {
    const now = cell.attr('root/data-sim') || null;
    if (now === state) {
      return;
    }
    // X6 leaves a removed attr on the DOM: "" is the unmarked state.
    cell.attr('root/data-sim', state || '', quiet);
  }

  function clearHighlight() {
    for (const cell of graph.getCells()) {
      mark(cell, null);
    }
    document.getElementById('canvas').removeAttribute('data-simulating');
    simulationShown(false);
  }

  // ------------------------------------------------------------- wiring

  openBtn.addEventListener('click', () => {
    errEl.hidden = true;
    showSource();
    dialog.showModal();
  });
  $('sim-again').addEventListener('click', () => {
    errEl.hidden = true;
    dialog.showModal();
  });
  $('sim-cancel').addEventListener('click', () => dialog.close());
  for (const r of form.querySelectorAll('input[name="sim-source"]')) {
    r.addEventListener('change', showSource);
  }
  $('sim-add-event').addEventListener('click', addEventRow);
  form.addEventListener('submit', run);
  profileSel.addEventListener('change', () => pickProfile(parseInt(profileSel.value, 10)));
  runSel.addEventListener('change', () => pickRun(parseInt(runSel.value, 10)));
  $('sim-first').addEventListener('click', () => render(0));
  $('sim-prev').addEventListener('click', () => render(index - 1));
  $('sim-next').addEventListener('click', () => render(index + 1));
  $('sim-last').addEventListener('click', () => render(steps.length - 1));
  $('sim-close').addEventListener('click', () => {
    panel.hidden = true;
    result = null;
    clearHighlight();
  });
}
