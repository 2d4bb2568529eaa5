// The segment builder (/segments/new, /segments/{id}): groups (all/any)
// of typed conditions, edited as a tree and written as JSON into the
// form's hidden "rules" field; a live estimate (debounced POST
// /segments/estimate, the previous request aborted); "View as expression"
// shows the expression the server generates from the rules (the only
// generator is the server's, internal/segments); "Advanced" switches to a
// hand-written expression. No inline script: the page's data is in data-
// attributes (CSP script-src 'self').
(function () {
  'use strict';

  var MAX_DEPTH = 4;
  var FIELDS = ['email', 'phone', 'external_id', 'timezone', 'locale'];
  var OPS = {
    string: [['is', 'is'], ['is_not', 'is not'], ['contains', 'contains'], ['starts_with', 'starts with'], ['exists', 'exists'], ['not_exists', 'does not exist']],
    number: [['eq', '='], ['ne', '≠'], ['lt', '<'], ['lte', '≤'], ['gt', '>'], ['gte', '≥'], ['exists', 'exists'], ['not_exists', 'does not exist']],
    boolean: [['is_true', 'is true'], ['is_false', 'is false'], ['exists', 'exists'], ['not_exists', 'does not exist']],
    date: [['before', 'before'], ['after', 'after'], ['within_days', 'within the last … days'], ['exists', 'exists'], ['not_exists', 'does not exist']],
    consent: [['granted', 'granted'], ['not_granted', 'not granted']],
    segment: [['in', 'is in'], ['not_in', 'is not in']]
  };
  var TYPE_LABEL = { string: 'text', number: 'number', boolean: 'yes/no', date: 'date' };
  var NO_VALUE = { exists: 1, not_exists: 1, is_true: 1, is_false: 1, granted: 1, not_granted: 1, in: 1, not_in: 1 };

  var root = document.getElementById('segment-builder');
  var form = document.getElementById('segment-form');
  if (!root || !form) {
    return;
  }
  var rulesInput = document.getElementById('segment-rules');
  var modeInput = document.getElementById('segment-mode');
  var exprBox = document.getElementById('segment-expr-box');
  var exprInput = document.getElementById('segment-expr');
  var generated = document.getElementById('segment-generated');
  var showExpr = document.getElementById('segment-show-expr');
  var advanced = document.getElementById('segment-advanced');
  var estimateOut = document.getElementById('segment-estimate');
  var sampleOut = document.getElementById('segment-sample');
  var errorOut = document.getElementById('segment-estimate-error');
  var disabled = !!form.querySelector('fieldset[disabled]');

  function parse(s, fallback) {
    try {
      var v = JSON.parse(s);
      return v == null ? fallback : v;
    } catch (e) {
      return fallback;
    }
  }
  var attributes = parse(root.getAttribute('data-attributes'), []);
  var segments = parse(root.getAttribute('data-segments'), []);
  var tree = parse(rulesInput.value, null);
  if (!tree || typeof tree !== 'object') {
    tree = { match: 'all', rules: [] };
  }
  if (!tree.match) {
    tree.match = 'all';
  }
  if (!Array.isArray(tree.rules)) {
    tree.rules = [];
  }
  var attrTypes = {};
  attributes.forEach(function (a) {
    attrTypes[a.name] = a.type;
  });

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') {
        e.textContent = attrs[k];
      } else {
        e.setAttribute(k, attrs[k]);
      }
    });
    (children || []).forEach(function (c) {
      if (c) {
        e.appendChild(c);
      }
    });
    return e;
  }

  function select(testid, label, options, value) {
    var s = el('select', { 'data-testid': testid, 'aria-label': label });
    options.forEach(function (o) {
      if (o.group) {
        var g = el('optgroup', { label: o.group });
        o.options.forEach(function (x) {
          g.appendChild(el('option', { value: x[0], text: x[1] }));
        });
        s.appendChild(g);
      } else {
        s.appendChild(el('option', { value: o[0], text: o[1] }));
      }
    });
    s.value = value;
    s.disabled = disabled;
    return s;
  }

  // kindOf names what a condition tests, as the field picker's value.
  function kindOf(r) {
    if (r.field) {
      return 'field:' + r.field;
    }
    if (r.consent) {
      return 'consent';
    }
    if (r.segment) {
      return 'segment';
    }
    if (r.attribute && attrTypes[r.attribute] !== undefined) {
      return 'attr:' + r.attribute;
    }
    return 'custom';
  }

  function typeOf(r) {
    if (r.field) {
      return 'string';
    }
    if (r.consent) {
      return 'consent';
    }
    if (r.segment) {
      return 'segment';
    }
    return r.type || 'string';
  }

  function newCondition() {
    if (attributes.length > 0) {
      var a = attributes[0];
      return { attribute: a.name, type: a.type, op: OPS[a.type][0][0], value: '' };
    }
    return { field: 'email', op: 'contains', value: '' };
  }

  function setKind(r, kind) {
    Object.keys(r).forEach(function (k) {
      delete r[k];
    });
    if (kind.indexOf('field:') === 0) {
      r.field = kind.slice(6);
      r.op = 'is';
      r.value = '';
    } else if (kind.indexOf('attr:') === 0) {
      r.attribute = kind.slice(5);
      r.type = attrTypes[r.attribute] || 'string';
      r.op = OPS[r.type][0][0];
      r.value = '';
    } else if (kind === 'consent') {
      r.consent = 'email';
      r.op = 'granted';
    } else if (kind === 'segment') {
      r.segment = segments[0] || '';
      r.op = 'in';
    } else {
      r.attribute = '';
      r.type = 'string';
      r.op = 'is';
      r.value = '';
    }
  }

  function fieldOptions() {
    var opts = [{ group: 'Profile fields', options: FIELDS.map(function (f) { return ['field:' + f, f]; }) }];
    if (attributes.length > 0) {
      opts.push({ group: 'Attributes', options: attributes.map(function (a) { return ['attr:' + a.name, a.name + ' (' + (TYPE_LABEL[a.type] || a.type) + ')']; }) });
    }
    opts.push({ group: 'Other', options: [['custom', 'Another attribute…'], ['consent', 'Consent'], ['segment', 'In segment']] });
    return opts;
  }

  function valueInput(r) {
    var type = typeOf(r);
    var input = el('input', { 'data-testid': 'seg-value', 'aria-label': 'Value', autocomplete: 'off' });
    if (type === 'number' || r.op === 'within_days') {
      input.type = 'number';
      input.step = r.op === 'within_days' ? '1' : 'any';
    } else if (type === 'date') {
      input.type = 'date';
    } else {
      input.type = 'text';
      input.maxLength = 500;
    }
    input.value = r.value == null ? '' : String(r.value);
    input.disabled = disabled;
    input.addEventListener('input', function () {
      if (input.type === 'number') {
        var n = Number(input.value);
        r.value = input.value === '' || !isFinite(n) ? input.value : n;
      } else {
        r.value = input.value;
      }
      changed(false);
    });
    return input;
  }

  function renderCondition(r, parent, index) {
    var row = el('div', { class: 'seg-condition', 'data-testid': 'seg-condition' });
    var kind = select('seg-field', 'Field', fieldOptions(), kindOf(r));
    kind.addEventListener('change', function () {
      setKind(r, kind.value);
      changed(true);
    });
    row.appendChild(kind);
    if (kindOf(r) === 'custom') {
      var name = el('input', { 'data-testid': 'seg-attr-name', 'aria-label': 'Attribute name', placeholder: 'attribute', maxlength: '64', autocomplete: 'off' });
      name.value = r.attribute || '';
      name.disabled = disabled;
      name.addEventListener('input', function () {
        r.attribute = name.value.trim();
        changed(false);
      });
      row.appendChild(name);
    }
    if (r.attribute !== undefined) {
      var type = select('seg-type', 'Type', [['string', 'text'], ['number', 'number'], ['boolean', 'yes/no'], ['date', 'date']], r.type || 'string');
      type.addEventListener('change', function () {
        r.type = type.value;
        r.op = OPS[r.type][0][0];
        r.value = '';
        changed(true);
      });
      row.appendChild(type);
    }
    if (r.consent !== undefined) {
      var ch = el('input', { 'data-testid': 'seg-channel', 'aria-label': 'Channel', maxlength: '64', size: '8', autocomplete: 'off' });
      ch.value = r.consent;
      ch.disabled = disabled;
      ch.addEventListener('input', function () {
        r.consent = ch.value.trim();
        changed(false);
      });
      row.appendChild(ch);
    }
    var ops = OPS[typeOf(r)];
    var op = select('seg-op', 'Operator', ops, r.op);
    if (op.value !== r.op) {
      r.op = op.value;
    }
    op.addEventListener('change', function () {
      var hadValue = !NO_VALUE[r.op];
      r.op = op.value;
      if (NO_VALUE[r.op]) {
        delete r.value;
      } else if (!hadValue) {
        r.value = '';
      }
      changed(true);
    });
    row.appendChild(op);
    if (r.segment !== undefined) {
      var seg = select('seg-segment', 'Segment', segments.map(function (s) { return [s, s]; }), r.segment);
      seg.addEventListener('change', function () {
        r.segment = seg.value;
        changed(false);
      });
      row.appendChild(seg);
    }
    if (!NO_VALUE[r.op]) {
      row.appendChild(valueInput(r));
    }
    if (!disabled) {
      var rm = el('button', { type: 'button', class: 'button small secondary', 'data-testid': 'seg-remove', 'aria-label': 'Remove this condition', text: '×' });
      rm.addEventListener('click', function () {
        parent.rules.splice(index, 1);
        changed(true);
      });
      row.appendChild(rm);
    }
    return row;
  }

  function renderGroup(g, depth, parent, index) {
    var box = el('div', { class: 'seg-group', 'data-testid': 'seg-group', 'data-depth': String(depth) });
    var head = el('div', { class: 'seg-group-head' });
    head.appendChild(el('span', { text: depth === 1 ? 'Profiles matching ' : 'Matching ' }));
    var match = select('seg-match', 'Match', [['all', 'all'], ['any', 'any']], g.match);
    match.addEventListener('change', function () {
      g.match = match.value;
      changed(false);
    });
    head.appendChild(match);
    head.appendChild(el('span', { text: ' of these conditions:' }));
    if (parent && !disabled) {
      var rm = el('button', { type: 'button', class: 'button small secondary', 'data-testid': 'seg-remove-group', text: 'Remove group' });
      rm.addEventListener('click', function () {
        parent.rules.splice(index, 1);
        changed(true);
      });
      head.appendChild(rm);
    }
    box.appendChild(head);
    g.rules.forEach(function (r, i) {
      if (r.match) {
        r.rules = Array.isArray(r.rules) ? r.rules : [];
        box.appendChild(renderGroup(r, depth + 1, g, i));
      } else {
        box.appendChild(renderCondition(r, g, i));
      }
    });
    if (!disabled) {
      var tools = el('div', { class: 'seg-group-tools' });
      var add = el('button', { type: 'button', class: 'button small', 'data-testid': 'seg-add-condition', text: 'Add condition' });
      add.addEventListener('click', function () {
        g.rules.push(newCondition());
        changed(true);
        var rows = box.querySelectorAll(':scope > .seg-condition');
        var last = rows[rows.length - 1];
        if (last) {
          var v = last.querySelector('[data-testid="seg-value"]') || last.querySelector('select');
          if (v) {
            v.focus();
          }
        }
      });
      tools.appendChild(add);
      if (depth < MAX_DEPTH) {
        var addg = el('button', { type: 'button', class: 'button small secondary', 'data-testid': 'seg-add-group', text: 'Add group' });
        addg.addEventListener('click', function () {
          g.rules.push({ match: g.match === 'all' ? 'any' : 'all', rules: [newCondition()] });
          changed(true);
        });
        tools.appendChild(addg);
      }
      box.appendChild(tools);
    }
    return box;
  }

  function render() {
    var focused = document.activeElement;
    var path = focused && root.contains(focused) ? focusPath(focused) : null;
    root.textContent = '';
    root.appendChild(renderGroup(tree, 1, null, 0));
    if (path) {
      restoreFocus(path);
    }
  }

  // focusPath / restoreFocus keep the keyboard focus on the same control
  // when the tree is drawn again.
  function focusPath(node) {
    var all = root.querySelectorAll('select, input, button');
    return Array.prototype.indexOf.call(all, node);
  }
  function restoreFocus(i) {
    var all = root.querySelectorAll('select, input, button');
    if (i >= 0 && i < all.length) {
      all[i].focus();
    }
  }

  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : '';
  }

  var timer = null;
  var inflight = null;
  var seq = 0;

  function changed(redraw) {
    rulesInput.value = JSON.stringify(tree);
    if (redraw) {
      render();
    }
    schedule();
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(estimate, 350);
  }

  // incomplete: a condition still waits for its value (just added).
  function incomplete(g) {
    return g.rules.some(function (r) {
      if (r.match) {
        return incomplete(r);
      }
      return !NO_VALUE[r.op] && (r.value === '' || r.value == null);
    });
  }

  function estimate() {
    if (inflight) {
      inflight.abort();
    }
    if (modeInput.value !== 'expr' && incomplete(tree)) {
      seq++;
      estimateOut.textContent = '—';
      sampleOut.textContent = '';
      errorOut.textContent = 'Give every condition its value to see the audience.';
      errorOut.hidden = false;
      return;
    }
    inflight = new AbortController();
    var my = ++seq;
    var body = modeInput.value === 'expr' ? { expr: exprInput.value } : { rules: tree };
    estimateOut.setAttribute('aria-busy', 'true');
    fetch('/segments/estimate', {
      method: 'POST', credentials: 'same-origin', signal: inflight.signal,
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrf() },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().then(function (data) {
        return { status: res.status, data: data };
      }, function () {
        return { status: res.status, data: {} };
      });
    }).then(function (r) {
      if (my !== seq) {
        return;
      }
      estimateOut.removeAttribute('aria-busy');
      var d = r.data || {};
      if (r.status === 200) {
        errorOut.hidden = true;
        estimateOut.textContent = d.text;
        generated.textContent = d.expr || '';
        sampleOut.textContent = '';
        (d.sample || []).forEach(function (p) {
          sampleOut.appendChild(el('li', { text: p.external_id + (p.email ? ' — ' + p.email : '') }));
        });
        return;
      }
      var msg = '';
      if (d.problems && d.problems.length) {
        msg = d.problems.map(function (p) { return p.field + ': ' + p.message; }).join('; ');
      } else if (d.error) {
        msg = d.error.message;
      } else {
        msg = 'The estimate failed (' + r.status + ').';
      }
      estimateOut.textContent = '—';
      sampleOut.textContent = '';
      errorOut.textContent = msg;
      errorOut.hidden = false;
    }).catch(function (e) {
      if (e && e.name === 'AbortError') {
        return;
      }
      estimateOut.removeAttribute('aria-busy');
      errorOut.textContent = 'The estimate could not be fetched.';
      errorOut.hidden = false;
    });
  }

  showExpr.addEventListener('click', function () {
    var open = generated.hidden;
    generated.hidden = !open;
    showExpr.setAttribute('aria-expanded', open ? 'true' : 'false');
    showExpr.textContent = open ? 'Hide expression' : 'View as expression';
  });

  function setMode(mode) {
    modeInput.value = mode;
    var expr = mode === 'expr';
    exprBox.hidden = !expr;
    root.hidden = expr;
    showExpr.hidden = expr;
    generated.hidden = true;
    advanced.textContent = expr ? 'Back to the visual builder' : 'Advanced: write an expression';
    if (expr && !exprInput.value.trim()) {
      exprInput.value = generated.textContent;
    }
  }
  advanced.addEventListener('click', function () {
    setMode(modeInput.value === 'expr' ? 'rules' : 'expr');
    schedule();
  });
  exprInput.addEventListener('input', schedule);

  rulesInput.value = JSON.stringify(tree);
  render();
  setMode(modeInput.value === 'expr' ? 'expr' : 'rules');
  estimate();
})();
