// Keyboard shortcuts of the canvas (when it has the focus; the list is in
// the editor's "Keyboard" help and docs/editor.md).

import { $ } from './dom.js';
import { readonly, deleteSelection, undo, redo, copySelection, paste, selectAll, nudge } from './document.js';
import { keyboard, selection, autoLayout, cycle, zoomBy, fit } from './canvas.js';
import { closePanel, focusPanelField } from './panel.js';

export function initKeys() {
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
  bind(['enter'], () => focusPanelField(true));
  bind(['?', 'shift+/'], () => {
    selection.clean();
    closePanel();
    $('.shortcuts').scrollIntoView();
  });
}
