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

// ask shows a modal question with two buttons and resolves to true when
// the person confirms. Escape or Cancel resolves to false. testid names
// the dialog and its confirm button (testid + "-confirm") for tests.
export function ask({ title, text, confirm, cancel, testid }) {
  return new Promise((resolve) => {
    const dlg = document.createElement('dialog');
    dlg.className = 'dialog';
    dlg.setAttribute('data-testid', testid);
    const h = document.createElement('h2');
    h.id = testid + '-title';
    h.textContent = title;
    dlg.setAttribute('aria-labelledby', h.id);
    const p = document.createElement('p');
    p.textContent = text;
    const actions = document.createElement('div');
    actions.className = 'dialog-actions';
    const no = document.createElement('button');
    no.type = 'button';
    no.textContent = cancel || 'Cancel';
    const yes = document.createElement('button');
    yes.type = 'button';
    yes.className = 'primary';
    yes.textContent = confirm;
    yes.setAttribute('data-testid', testid + '-confirm');
    actions.append(no, yes);
    dlg.append(h, p, actions);
    let answer = false;
    yes.addEventListener('click', () => { answer = true; dlg.close(); });
    no.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => {
      dlg.remove();
      resolve(answer);
    });
    (document.getElementById('editor') || document.body).append(dlg);
    dlg.showModal();
    yes.focus();
  });
}
