// Waymark's small page helpers: CSRF header for htmx requests and
// confirmation of destructive form posts (data-confirm). No inline scripts
// or handlers anywhere: the Content-Security-Policy forbids them.
(function () {
  'use strict';
  const meta = document.querySelector('meta[name="csrf-token"]');
  document.addEventListener('htmx:configRequest', (e) => {
    if (meta) {
      e.detail.headers['X-CSRF-Token'] = meta.content;
    }
  });
  document.addEventListener('submit', (e) => {
    const form = e.target;
    const msg = form.getAttribute && form.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);
})();
