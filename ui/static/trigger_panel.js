// The trigger panel's "Connect" section (ui/views/trigger_panel.templ):
// copy buttons, picking a value of a captured request into a mapping
// field, and picking a recent event name. Everything is wired by event
// delegation on data attributes, so it works on the server-rendered
// fragments htmx swaps in, and depends on no other editor script.
//
//   data-tp-copy="#sel"     copies the text of #sel
//   data-tp-target="f.x"    chooses the field a clicked value fills
//   data-tp-expr="event…"   writes this expression into the chosen field
//   data-tp-event="name"    writes this name into the event field
(function () {
  'use strict';

  function section(el) {
    return el.closest('.trigger-connect');
  }

  // say announces a short message in the section's live region (and
  // shows it where there is a visible one).
  function say(el, text) {
    const box = section(el);
    const status = box && (box.querySelector('.tp-filled') || box.querySelector('.tp-status'));
    if (status) {
      status.textContent = text;
    }
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (err) {
        // not allowed here: fall back to a selection
      }
    }
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'visually-hidden';
    document.body.append(area);
    area.select();
    let ok = false;
    try {
      ok = document.execCommand('copy');
    } catch (err) {
      ok = false;
    }
    area.remove();
    return ok;
  }

  async function onCopy(button) {
    const source = document.querySelector(button.getAttribute('data-tp-copy'));
    if (!source) {
      return;
    }
    const ok = await copyText(source.textContent);
    const label = button.getAttribute('data-label') || button.textContent;
    button.setAttribute('data-label', label);
    button.setAttribute('data-copied', ok ? 'true' : 'false');
    button.textContent = ok ? 'Copied' : 'Copy failed';
    say(button, ok ? 'Copied to the clipboard.' : 'Could not copy: select the text and copy it by hand.');
    clearTimeout(button.wmCopyTimer);
    button.wmCopyTimer = setTimeout(() => {
      button.textContent = label;
    }, 2000);
  }

  function chooseTarget(button) {
    const group = button.closest('.tp-fill');
    if (!group) {
      return;
    }
    group.querySelectorAll('[data-tp-target]').forEach((b) => {
      b.setAttribute('aria-pressed', String(b === button));
    });
  }

  // setField writes value into the node form's field name as if typed:
  // "input" tells the editor that the field changed after any answer in
  // flight (so that answer does not overwrite it), "change" makes the form
  // post, validate and apply it to the canvas.
  function setField(name, value) {
    const form = document.getElementById('node-form');
    const input = form && form.querySelector('[name="' + CSS.escape(name) + '"]');
    if (!input) {
      return null;
    }
    if (input.readOnly || input.disabled) {
      return false;
    }
    input.value = value;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
    return true;
  }

  function onExpr(button) {
    const area = button.closest('.tp-sample');
    const target = area && area.querySelector('[data-tp-target][aria-pressed="true"]');
    if (!target) {
      return;
    }
    const expr = button.getAttribute('data-tp-expr');
    const label = target.textContent.trim();
    const done = setField(target.getAttribute('data-tp-target'), expr);
    if (done === null) {
      say(button, 'The ' + label + ' field is not in this panel.');
    } else if (!done) {
      say(button, 'This panel is read-only: ' + label + ' cannot change.');
    } else {
      say(button, label + ' is now ' + expr);
    }
  }

  function onEvent(button) {
    const name = button.getAttribute('data-tp-event');
    const done = setField('f.event', name);
    if (done) {
      say(button, 'Event name is now ' + name);
    }
  }

  document.addEventListener('click', (ev) => {
    const el = ev.target instanceof Element ? ev.target : null;
    if (!el) {
      return;
    }
    const copy = el.closest('[data-tp-copy]');
    if (copy) {
      onCopy(copy);
      return;
    }
    const target = el.closest('[data-tp-target]');
    if (target) {
      chooseTarget(target);
      return;
    }
    const expr = el.closest('[data-tp-expr]');
    if (expr) {
      onExpr(expr);
      return;
    }
    const event = el.closest('[data-tp-event]');
    if (event && !event.disabled) {
      onEvent(event);
    }
  });

  // ------------------------------------------------ panel fields and clicks
  //
  // Fields of the node form that are not the step's config ("Preview as"
  // search, marked data-no-apply; the test-send inputs, ts_*) do not make
  // the form post and re-render when they change: nothing in the step
  // changed. Enter in the search does not submit the form either.
  function notConfig(el) {
    return el instanceof Element && el.closest('#node-form') &&
      (el.closest('[data-no-apply]') || /^(ts_|_)/.test(el.name || ''));
  }
  document.addEventListener('change', (ev) => {
    if (notConfig(ev.target)) {
      ev.stopPropagation();
    }
  }, true);
  // Nor is what is typed there unsaved work of the journey (the editor's
  // save.js warns before leaving with typed text not yet applied): it
  // becomes the field's default as it is typed.
  document.addEventListener('input', (ev) => {
    if (notConfig(ev.target) && 'defaultValue' in ev.target) {
      ev.target.defaultValue = ev.target.value;
    }
  }, true);
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && ev.target instanceof Element && ev.target.closest('[data-no-apply]')) {
      ev.preventDefault();
    }
  }, true);

  // The first click on a panel button is never lost. Leaving a changed
  // field makes its form post and re-render (htmx swaps the whole form),
  // so a click that started on a control of the old form used to land on
  // nothing (docs/editor.md, "Properties"). Now a press on a control of
  // the panel while a changed field has the focus keeps the focus there
  // (no blur yet, nothing re-rendered under the pointer), and the click
  // then: submits the form, field included, when the control is one of
  // its submit buttons (Add, Remove, Apply, a "Preview as" profile); or
  // applies the field first and clicks the same control of the
  // re-rendered form (Reveal, Listen, a <summary>, Send test…).
  const FIELD = 'textarea, input:not([type=checkbox]):not([type=radio]):not([type=submit]):not([type=button]):not([type=hidden])';
  const CONTROL = 'button, summary';
  let pressed = null;

  document.addEventListener('focusin', (ev) => {
    const el = ev.target;
    if (el instanceof Element && el.matches(FIELD) && el.closest('.prop-form')) {
      el.wmFocusValue = el.value;
    }
  }, true);

  function changedField(form) {
    const el = document.activeElement;
    if (!(el instanceof Element) || !el.matches(FIELD) || !form.contains(el) || el.readOnly) {
      return null;
    }
    return el.value !== el.wmFocusValue ? el : null;
  }

  function ownKey(el) {
    if (el.id) {
      return '#' + CSS.escape(el.id);
    }
    const testid = el.getAttribute('data-testid');
    if (testid) {
      return '[data-testid="' + CSS.escape(testid) + '"]';
    }
    if (el.name) {
      return '[name="' + CSS.escape(el.name) + '"][value="' + CSS.escape(el.value) + '"]';
    }
    return null;
  }

  // controlKey finds ctl again in a re-rendered form: by its own id,
  // test id or name and value, else as the n-th control of its kind in
  // the nearest ancestor that has one (a <details>'s <summary>).
  function controlKey(ctl) {
    const own = ownKey(ctl);
    if (own) {
      return { sel: own, index: 0 };
    }
    for (let a = ctl.parentElement; a && !a.matches('.prop-form'); a = a.parentElement) {
      const k = ownKey(a);
      if (k) {
        const sel = k + ' ' + ctl.localName;
        return { sel: sel, index: Array.from(a.querySelectorAll(ctl.localName)).indexOf(ctl) };
      }
    }
    return null;
  }

  function findControl(form, key) {
    return key && form ? form.querySelectorAll(key.sel)[key.index] || null : null;
  }

  document.addEventListener('mousedown', (ev) => {
    pressed = null;
    if (ev.button !== 0 || !(ev.target instanceof Element)) {
      return;
    }
    const ctl = ev.target.closest(CONTROL);
    const form = ctl && ctl.closest('.prop-form');
    const field = form && changedField(form);
    if (!field || field === ctl || ctl.disabled) {
      return;
    }
    ev.preventDefault(); // keep the focus: the field is applied with the click
    pressed = { ctl: ctl, field: field, form: form };
  }, true);

  function busy() {
    return !!document.querySelector('.prop-form.htmx-request');
  }

  // clickAfterApply applies p's field, waits for the form's answer to be
  // swapped in, then clicks p's control (or its re-rendered twin).
  function clickAfterApply(p) {
    const key = controlKey(p.ctl);
    const formID = p.form.id;
    p.field.wmFocusValue = p.field.value;
    p.field.dispatchEvent(new Event('change', { bubbles: true }));
    const started = Date.now();
    const wait = () => {
      const swapped = !p.form.isConnected;
      if ((busy() || !swapped) && Date.now() - started < 5000 && !(Date.now() - started > 300 && !busy() && !swapped)) {
        requestAnimationFrame(wait);
        return;
      }
      // htmx settles a swap 20 ms after it.
      setTimeout(() => {
        const form = document.getElementById(formID);
        const el = p.ctl.isConnected ? p.ctl : findControl(form, key);
        if (el && !el.disabled) {
          el.click();
        }
      }, 40);
    };
    requestAnimationFrame(wait);
  }

  document.addEventListener('click', (ev) => {
    const p = pressed;
    pressed = null;
    if (!p || !(ev.target instanceof Element) || ev.target.closest(CONTROL) !== p.ctl || !ev.isTrusted) {
      return;
    }
    const submits = p.ctl.matches('button') && p.ctl.type === 'submit' && p.ctl.form === p.form;
    const config = /^(f\.|title$)/.test(p.field.name || '');
    if (submits || !config) {
      return; // one request carries the field and the click, or nothing to apply
    }
    ev.preventDefault();
    ev.stopImmediatePropagation();
    clickAfterApply(p);
  }, true);

  // Focusing a mapping field chooses it as the one a click fills.
  document.addEventListener('focusin', (ev) => {
    const el = ev.target;
    if (!(el instanceof Element) || !el.name || !el.closest('#node-form')) {
      return;
    }
    const target = document.querySelector('#tp-listen [data-tp-target="' + CSS.escape(el.name) + '"]');
    if (target) {
      chooseTarget(target);
    }
  });
})();
