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
