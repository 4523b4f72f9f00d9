// Evaluated once the page is done, as a function of the largest length the
// caller takes. It reads the prerender meta tags first (a page may have added
// them from JavaScript), then strips every script but JSON-LD from the live
// DOM (the page is unloaded afterwards) and serializes the document with its
// doctype. A document longer than maxLength is measured, not sent: only its
// length crosses to prerenderd, whatever its size.
((maxLength) => {
  const metas = (name) =>
    Array.from(document.querySelectorAll('meta[name="' + name + '" i]'), (m) => m.getAttribute('content') || '');
  const status = metas('prerender-status-code');
  const headers = metas('prerender-header');
  const root = document.documentElement;
  if (!root) {
    return { status, headers, url: location.href, html: '', length: 0, empty: true };
  }
  for (const s of Array.from(document.querySelectorAll('script'))) {
    if ((s.getAttribute('type') || '').trim().toLowerCase() !== 'application/ld+json') {
      s.remove();
    }
  }
  const dt = document.doctype;
  const doctype = dt ? new XMLSerializer().serializeToString(dt) : '';
  const html = doctype + root.outerHTML;
  if (html.length > maxLength) {
    return { status, headers, url: location.href, html: '', length: html.length };
  }
  return { status, headers, url: location.href, html, length: html.length };
})
