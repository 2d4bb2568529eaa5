// Small DOM helpers the editor's modules share: queries, the toast and the
// canvas's screen-reader label. Text reaches the DOM through textContent
// only — never innerHTML.

export const $ = (sel, el) => (el || document).querySelector(sel);
export const $$ = (sel, el) => Array.from((el || document).querySelectorAll(sel));

let toastTimer = null;

// toast shows a short message at the bottom of the canvas for a few seconds.
export function toast(msg) {
  const el = $('#toast');
  if (!el) {
    return;
  }
  el.textContent = msg;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 3500);
}

// announce tells screen readers what the keyboard just did on the canvas.
export function announce(text) {
  const el = $('#canvas');
  if (el) {
    el.setAttribute('aria-label', 'Journey canvas. ' + text + '.');
  }
}
