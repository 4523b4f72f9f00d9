// The demo shop is a tiny single-page app: nothing useful is in the HTML until this
// script has fetched the products.
(function () {
  var app = document.getElementById('app');
  var id = new URLSearchParams(location.search).get('id');
  function esc(s) { var d = document.createElement('div'); d.textContent = s; return d.innerHTML; }
  function meta(name, content) {
    var m = document.createElement('meta'); m.name = name; m.content = content; document.head.appendChild(m);
  }
  if (!location.pathname.endsWith('/product.html')) {
    fetch('/demo/api/products').then(function (r) { return r.json(); }).then(function (ps) {
      document.title = 'All products | prerenderd demo shop';
      meta('description', ps.length + ' handmade things for the home.');
      app.innerHTML = '<h1>All products</h1><ul class="products">' + ps.map(function (p) {
        return '<li><a href="/demo/product.html?id=' + p.id + '">' + esc(p.name) + '</a> <span class="price">$' + p.price + '</span></li>';
      }).join('') + '</ul>';
    });
    return;
  }
  fetch('/demo/api/product?id=' + encodeURIComponent(id || '')).then(function (r) {
    if (!r.ok) {
      // Tell prerenderd (and so the crawler) that this page does not exist.
      meta('prerender-status-code', '404');
      document.title = 'Not found | prerenderd demo shop';
      app.innerHTML = '<h1>No such product</h1>';
      return;
    }
    return r.json().then(function (p) {
      document.title = p.name + ' | prerenderd demo shop';
      meta('description', p.description);
      var ld = document.createElement('script');
      ld.type = 'application/ld+json';
      ld.textContent = JSON.stringify({ '@context': 'https://schema.org', '@type': 'Product', name: p.name,
        offers: { '@type': 'Offer', price: p.price, priceCurrency: 'USD' } });
      document.head.appendChild(ld);
      app.innerHTML = '<h1>' + esc(p.name) + '</h1><p class="price">$' + p.price + '</p><p>' + esc(p.description) + '</p>';
    });
  });
})();
