// Evaluated once the page is done. It reads the prerender meta tags first
// (a page may have added them from JavaScript), then strips every script but
// JSON-LD from the live DOM (the page is unloaded afterwards) and
// serializes the document with its doctype.
(() => {
  const metas = (name) =>
    Array.from(document.querySelectorAll('meta[name="' + name + '" i]'), (m) => m.getAttribute('content') || '');
  const status = metas('prerender-status-code');
  const headers = metas('prerender-header');
  for (const s of Array.from(document.querySelectorAll('script'))) {
    if ((s.getAttribute('type') || '').trim().toLowerCase() !== 'application/ld+json') {
      s.remove();
    }
  }
  const dt = document.doctype;
  const doctype = dt ? new XMLSerializer().serializeToString(dt) : '';
  const root = document.documentElement;
  return { status, headers, url: location.href, html: doctype + (root ? root.outerHTML : '') };
})()
