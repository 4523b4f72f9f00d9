// prerenderd's dashboard: reads /api/stats, /api/stats/top and /api/state every
// few seconds and drives the admin routes (/search, /cache-clear, /recache,
// /sitemap, /change-recache-speed). No build step: plain browser JavaScript and
// the vendored uPlot. The token, when the appliance asks for one, lives in this
// tab's sessionStorage only.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'prerenderd-token';
  const REFRESH_MS = 5000;
  const TOP_EVERY = 3; // top lists every third refresh
  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  // ?window=6h&site=shop.example: a view can be bookmarked.
  const params = new URLSearchParams(location.search);
  // cluster: null until /api/cluster answered, then whether [cluster] is on
  // (off, it is not asked again: a single node shows nothing of it).
  const ui = { cluster: null, site: params.get('site') || 'all', window: params.get('window') || '6h', charts: {}, ticks: 0, timer: null, sites: '', crawlers: '' };
  if ([...$('window').options].some((o) => o.value === ui.window)) $('window').value = ui.window; else ui.window = $('window').value;

  // ---- small helpers ----
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }
  const nf = new Intl.NumberFormat('en-US');
  const fmtInt = (n) => (n === null || n === undefined ? '–' : nf.format(n));
  function fmtBytes(n) {
    if (!n) return '0 B';
    const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + ' ' + u[i];
  }
  const fmtMs = (v) => (v === null || v === undefined ? '–' : v >= 10000 ? Math.round(v / 1000) + ' s' : v >= 1000 ? (v / 1000).toFixed(1) + ' s' : Math.round(v) + ' ms');
  const fmtPct = (v) => (v === null || v === undefined ? '–' : (v * 100).toFixed(1) + '%');
  function ago(iso) {
    if (!iso || iso.startsWith('0001')) return '–';
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (s < 90) return s + ' s ago';
    if (s < 5400) return Math.round(s / 60) + ' min ago';
    if (s < 172800) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' days ago';
  }
  const clock = (iso) => new Date(iso).toLocaleTimeString();
  function setValue(id, text, value) {
    const e = $(id);
    e.textContent = text;
    e.dataset.value = value === null || value === undefined ? '' : String(value);
  }
  function rows(tbody, list, make, empty) {
    tbody.replaceChildren(...(list.length ? list.map(make) : [el('tr', {}, el('td', { colspan: '9', class: 'muted' }, empty))]));
  }
  function status(id, text, bad) {
    const e = $(id);
    e.textContent = text;
    e.classList.toggle('bad', !!bad);
  }

  // ---- the API ----
  async function api(path, opts) {
    opts = opts || {};
    const headers = {};
    if (token) headers['X-Prerender-Token'] = token;
    let body;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const res = await fetch(path, { method: opts.method || 'GET', headers, body, cache: 'no-store' });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { /* a refusal is plain text */ }
    if (!res.ok && !(res.status === 400 && data && data.invalid)) {
      const reason = res.headers.get('X-Prerender-Reject-Reason') || String(res.status);
      const err = new Error(text.trim() || reason);
      err.status = res.status;
      err.reason = reason;
      if (reason === 'token-missing' || reason === 'token-invalid') askToken(reason === 'token-invalid');
      if (reason === 'admin-not-loopback') notice('This appliance answers its dashboard data to loopback callers only while server.tokens is empty. Set a token in config.toml to use it from here.');
      throw err;
    }
    return { status: res.status, data };
  }

  function notice(text) {
    const n = $('notice');
    n.textContent = text;
    n.hidden = !text;
  }

  function askToken(invalid) {
    const d = $('token-dialog');
    if (d.open) return;
    $('token-input').value = '';
    $('token-input').placeholder = invalid ? 'that token was refused: try again' : 'X-Prerender-Token';
    d.showModal();
  }
  $('token-button').addEventListener('click', () => askToken(false));
  $('token-cancel').addEventListener('click', () => $('token-dialog').close());
  $('token-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = $('token-input').value.trim();
    if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
    $('token-dialog').close();
    refresh(true);
  });

  // ---- charts (uPlot) ----
  const colors = {
    HIT: '#2a9d8f', STALE: '#8ab17d', PRERENDER: '#3a6ea5', MISS: '#e9a23b', REVALIDATED: '#9b5de5', BYPASS: '#8d99ae', error: '#d1495b',
    ok: '#2a9d8f', incomplete: '#e9a23b', overloaded: '#6d597a',
    live: '#264653', priority: '#f4a261', normal: '#a8dadc',
    search: '#3a6ea5', social: '#e76f51', ai_training: '#9b5de5', ai_search: '#f15bb5', ai_user: '#00bbf9', seo: '#8ab17d', other: '#8d99ae', other_bots: '#6d597a', unknown: '#c9ccd1',
  };
  const palette = ['#3a6ea5', '#e76f51', '#2a9d8f', '#9b5de5', '#f4a261', '#00bbf9', '#d1495b', '#8ab17d'];
  const observer = new ResizeObserver((entries) => {
    for (const e of entries) {
      const c = ui.charts[e.target.id];
      if (c) c.setSize({ width: Math.max(e.contentRect.width, 200), height: c.height });
    }
  });

  function drawChart(id, series, data, yValues, range) {
    const target = $(id);
    const key = series.map((s) => s.label).join('|');
    let c = ui.charts[id];
    if (c && c.key === key) {
      c.setData(data);
      return;
    }
    if (c) c.destroy();
    target.replaceChildren();
    const width = Math.max(target.clientWidth, 200);
    const height = window.innerWidth < 640 ? 180 : 220;
    c = new uPlot({
      width, height,
      series: [{}].concat(series),
      axes: [{}, { size: 64, values: yValues }],
      scales: range ? { y: { range } } : {},
      legend: { live: true },
    }, data, target);
    c.key = key;
    ui.charts[id] = c;
    observer.observe(target);
  }

  const line = (label, color, extra) => Object.assign({ label, stroke: color, width: 1.5 }, extra || {});
  // A rate or a time has no value in a minute without traffic (null): the points
  // that have one are drawn and joined, so sparse traffic still shows.
  const sparse = (label, color, extra) => line(label, color, Object.assign({ spanGaps: true, points: { show: true, size: 5, fill: color } }, extra || {}));
  const sum = (a) => a.reduce((x, y) => x + y, 0);

  function drawCharts(st) {
    const x = st.time;
    drawChart('chart-hit-rate', [
      sparse('hit rate', colors.HIT, { value: (u, v) => (v === null ? '–' : v.toFixed(1) + '%') }),
      line('70% healthy', colors.error, { dash: [6, 4], points: { show: false }, value: () => '70%' }),
    ], [x, st.hit_rate.map((v) => (v === null ? null : v * 100)), x.map(() => 70)],
    (u, vals) => vals.map((v) => v + '%'), [0, 100]);

    const results = Object.keys(st.requests).filter((r) => sum(st.requests[r]) > 0);
    const shown = results.length ? results : ['HIT', 'MISS'];
    drawChart('chart-requests', shown.map((r) => line(r, colors[r])), [x].concat(shown.map((r) => st.requests[r])));

    const rr = Object.keys(st.renders).filter((r) => sum(st.renders[r]) > 0);
    const rq = Object.keys(st.renders_by_queue).filter((q) => sum(st.renders_by_queue[q]) > 0);
    const renderSeries = rr.map((r) => line(r, colors[r])).concat(rq.map((q) => line('queue ' + q, colors[q], { dash: [4, 3] })));
    const renderData = [x].concat(rr.map((r) => st.renders[r]), rq.map((q) => st.renders_by_queue[q]));
    if (!renderSeries.length) { renderSeries.push(line('ok', colors.ok)); renderData.push(x.map(() => 0)); }
    drawChart('chart-renders', renderSeries, renderData);

    drawChart('chart-render-time', [
      sparse('p50', colors.HIT), sparse('p95', colors.error), sparse('average', colors.PRERENDER, { dash: [4, 3] }),
    ], [x, st.render_p50_ms, st.render_p95_ms, st.render_avg_ms], (u, vals) => vals.map((v) => fmtMs(v)));

    if ($('crawler-view').value === 'crawler') {
      // The 8 busiest crawlers of the window, the rest summed.
      const names = Object.keys(st.crawler_requests).sort((a, b) => sum(st.crawler_requests[b]) - sum(st.crawler_requests[a]));
      const top = names.slice(0, 8);
      const series = top.map((n, i) => line(n, palette[i % palette.length]));
      const data = [x].concat(top.map((n) => st.crawler_requests[n]));
      if (names.length > 8) {
        series.push(line('the others', '#8d99ae', { dash: [4, 3] }));
        data.push(x.map((_, i) => sum(names.slice(8).map((n) => st.crawler_requests[n][i]))));
      }
      if (!series.length) { series.push(line('none', '#8d99ae')); data.push(x.map(() => 0)); }
      drawChart('chart-crawlers', series, data);
    } else {
      const groups = Object.keys(st.crawler_groups).filter((g) => sum(st.crawler_groups[g]) > 0);
      const gshown = groups.length ? groups : ['search'];
      drawChart('chart-crawlers', gshown.map((g) => line(g, colors[g] || '#888')), [x].concat(gshown.map((g) => st.crawler_groups[g])));
    }
  }

  // ---- the window's numbers ----
  function drawTotals(st) {
    const t = st.total;
    setValue('total-requests', fmtInt(t.requests), t.requests);
    setValue('total-hit-rate', fmtPct(t.hit_rate), t.hit_rate === null ? '' : t.hit_rate.toFixed(4));
    const hr = $('total-hit-rate');
    hr.classList.toggle('ok', t.hit_rate !== null && t.hit_rate >= 0.7);
    hr.classList.toggle('bad', t.hit_rate !== null && t.hit_rate < 0.7);
    setValue('total-renders', fmtInt(t.renders), t.renders);
    const failed = (t.renders_by_result.error || 0) + (t.renders_by_result.overloaded || 0);
    $('total-renders-failed').textContent = failed ? fmtInt(failed) + ' failed or overloaded' : 'none failed';
    setValue('total-render-times', fmtMs(t.render_p50_ms) + ' / ' + fmtMs(t.render_p95_ms),
      t.render_p50_ms === null ? '' : Math.round(t.render_p50_ms) + '/' + Math.round(t.render_p95_ms));
    $('total-render-avg').textContent = t.render_avg_ms === null ? '' : 'average ' + fmtMs(t.render_avg_ms);
    setValue('total-bytes', fmtBytes(t.bytes), t.bytes);

    const total = t.requests || 0;
    rows($('crawlers').tBodies[0], st.crawlers, (c) => el('tr', { dataset: { crawler: c.name, requests: c.requests } },
      el('td', {}, c.name), el('td', { class: 'muted' }, c.group), el('td', { class: 'n' }, fmtInt(c.requests)),
      el('td', { class: 'n' }, fmtPct(total ? c.requests / total : null)),
      el('td', { class: 'n' }, fmtPct(c.requests ? c.cached / c.requests : null)),
      el('td', { class: 'n' }, fmtInt(c.rendered))), 'no requests in this window');

    const sites = st.sites.join('|');
    if (sites !== ui.sites) {
      ui.sites = sites;
      const sel = $('site');
      sel.replaceChildren(el('option', { value: 'all' }, 'all'), ...st.sites.map((s) => el('option', { value: s }, s)));
      sel.value = ui.site;
    }
    const names = st.crawlers.map((c) => c.name).sort().join('|');
    if (names !== ui.crawlers) {
      ui.crawlers = names;
      for (const id of ['missed-crawler', 'slowest-crawler']) {
        const sel = $(id);
        const keep = sel.value;
        const opts = [el('option', { value: '' }, 'all crawlers')].concat(st.crawlers.map((c) => el('option', { value: c.name }, c.name)));
        if (id === 'slowest-crawler') opts.push(el('option', { value: 'recache' }, 'recache queues'));
        sel.replaceChildren(...opts);
        sel.value = keep;
      }
    }
  }

  async function refreshStats() {
    const q = new URLSearchParams({ from: '-' + ui.window, site: ui.site });
    const path = '/api/stats?' + q;
    const { data } = await api(path);
    drawTotals(data);
    drawCharts(data);
    document.body.dataset.statsQuery = path;
  }

  async function refreshTop() {
    for (const [by, table, select] of [['missed', 'top-missed', 'missed-crawler'], ['slowest', 'top-slowest', 'slowest-crawler']]) {
      const q = new URLSearchParams({ by, from: '-' + ui.window, site: ui.site, limit: '50' });
      if ($(select).value) q.set('crawler', $(select).value);
      const { data } = await api('/api/stats/top?' + q);
      rows($(table).tBodies[0], data.items, (it) => el('tr', {},
        el('td', { class: 'url' }, it.url),
        el('td', { class: 'n', title: it.max_error ? 'at most ' + it.max_error + ' too many' : '' }, fmtInt(it.value))),
      'nothing in this window');
    }
  }

  // ---- live state ----
  function drawState(s) {
    $('version').textContent = s.version || '';
    const c = s.cache;
    $('cache-size').textContent = fmtBytes(c.stored_bytes) + (c.max_bytes ? ' of ' + fmtBytes(c.max_bytes) : '');
    const pct = c.max_bytes ? Math.min(100, (100 * c.stored_bytes) / c.max_bytes) : 0;
    $('cache-bar').style.width = pct + '%';
    $('cache-bar').classList.toggle('warn', pct >= 90);
    $('cache-pages').textContent = fmtInt(c.pages) + ' pages · ' + fmtBytes(c.disk_bytes) + ' on disk';
    $('cache-size').dataset.value = String(c.stored_bytes);

    const box = $('browsers');
    const parts = s.browsers.map((b) => {
      const free = b.tabs - b.busy;
      return el('div', { class: 'browser', dataset: { browser: b.id } },
        el('div', { class: 'head' },
          el('strong', {}, 'browser ' + b.id), el('span', {}, b.state), el('span', { class: 'muted' }, 'pid ' + b.pid),
          el('span', { class: 'muted' }, 'up ' + ago(b.up_since)), el('span', { class: 'muted' }, fmtInt(b.renders) + ' renders'),
          el('span', { class: 'muted' }, fmtBytes(b.pss_bytes) + ' PSS'),
          el('span', { class: 'muted' }, free + ' of ' + b.tabs + ' tabs free')),
        ...b.rendering.map((t) => el('div', { class: 'tab' },
          el('span', { class: 'url' }, t.url), el('span', { class: 'muted' }, t.queue), el('span', { class: 'muted' }, 'since ' + ago(t.since)))));
    });
    if (s.browsers_starting) parts.push(el('div', { class: 'muted' }, s.browsers_starting + ' starting'));
    if (!parts.length) parts.push(el('div', { class: 'muted' }, 'no browser up'));
    box.replaceChildren(...parts);
    rows($('waiting').tBodies[0], s.waiting, (t) => el('tr', {}, el('td', { class: 'url' }, t.url), el('td', {}, t.queue), el('td', {}, ago(t.since))), 'no render waits for a tab');

    const q = s.queues;
    const kv = (k, v) => el('tr', {}, el('td', {}, k), el('td', {}, v));
    $('queues').tBodies[0].replaceChildren(
      kv('tabs busy', q.tabs_busy + ' of ' + q.tabs),
      kv('renders in flight', fmtInt(s.renders_in_flight)),
      kv('waiting for a tab', fmtInt(q.tab_wait)),
      kv('priority queue', fmtInt(q.priority.length) + ' URLs · ' + (q.priority.urls_per_hour ? fmtInt(q.priority.urls_per_hour) + ' per hour' : 'as fast as tabs allow')),
      kv('normal queue (past their TTL)', fmtInt(q.normal.length) + ' pages · ' + fmtInt(q.normal.urls_per_hour) + ' per hour'));
    $('speed').placeholder = 'now ' + (q.priority.urls_per_hour || '0 (automatic)') + ' URLs per hour';

    const sm = s.sitemaps;
    $('sitemap-counters').tBodies[0].replaceChildren(
      kv('polls since start', fmtInt(sm.polls)), kv('URLs found', fmtInt(sm.urls_found)),
      kv('URLs queued', fmtInt(sm.urls_queued)), kv('read errors', fmtInt(sm.read_errors)));
    rows($('sitemaps').tBodies[0], sm.files, (f) => el('tr', {},
      el('td', { class: 'url' }, f.url + (f.kind === 'sitemapindex' ? ' (index)' : '')), el('td', { class: 'n' }, fmtInt(f.urls)),
      el('td', {}, ago(f.polled_at)), el('td', { class: 'result-error' }, f.last_error || '')), 'no sitemap yet');

    rows($('recent').tBodies[0], s.recent_renders, (r) => el('tr', {},
      el('td', {}, clock(r.time)), el('td', { class: 'url' }, r.url), el('td', {}, r.variant), el('td', { class: 'n' }, r.status || '–'),
      el('td', { class: 'result-' + r.result, title: r.error || '' }, r.result), el('td', {}, r.queue), el('td', { class: 'n' }, fmtInt(r.ms))),
    'no render since start');
  }

  async function refreshState() {
    const { data } = await api('/api/state');
    drawState(data);
  }

  // ---- the cluster: its members and what each owns ----
  function drawCluster(c) {
    ui.cluster = c.enabled;
    $('cluster').hidden = !c.enabled;
    if (!c.enabled) return;
    $('cluster-name').textContent = c.name + ' · ' + c.members.length + (c.members.length === 1 ? ' member' : ' members') + ' · ' + fmtInt(c.virtual_shards) + ' virtual shards';
    rows($('cluster-members').tBodies[0], c.members, (m) => el('tr', { dataset: { node: m.name || m.address } },
      el('td', {}, m.name || '?'), el('td', { class: 'muted' }, m.address),
      el('td', { class: 'n', dataset: { value: String(m.virtual_shards) } }, fmtInt(m.virtual_shards)),
      el('td', { class: 'n' }, c.virtual_shards ? Math.round((100 * m.virtual_shards) / c.virtual_shards) + '%' : '–'),
      el('td', { class: 'n' }, m.error ? '–' : fmtInt(m.pages)),
      el('td', { class: m.error ? 'result-error' : 'muted', title: m.error || '' }, m.error ? 'did not answer' : m.self ? 'this node' : '')),
    'no member: this node is not registered');
    const f = c.forwarded;
    const kv = (k, v) => el('tr', {}, el('td', {}, k), el('td', {}, v));
    $('cluster-forwarded').tBodies[0].replaceChildren(
      kv('sent to their owner by this node', fmtInt(f.out)),
      kv('answered here for other nodes', fmtInt(f.in)),
      kv('owner did not answer', fmtInt(f.errors)),
      kv('mean forwarded page request', f.hop_mean_seconds ? (1000 * f.hop_mean_seconds).toFixed(1) + ' ms' : '–'));
  }

  async function refreshCluster() {
    if (ui.cluster === false) return;
    const { data } = await api('/api/cluster');
    drawCluster(data);
  }

  // ---- the loop ----
  async function refresh(withTop) {
    clearTimeout(ui.timer);
    const live = $('live');
    try {
      await Promise.all([refreshStats(), refreshState(), refreshCluster(), withTop || ui.ticks % TOP_EVERY === 0 ? refreshTop() : null]);
      live.className = 'live ok';
      live.title = 'updated ' + new Date().toLocaleTimeString();
      document.body.dataset.ready = '1';
      document.body.dataset.updated = String(Date.now());
      if (!/loopback/.test($('notice').textContent)) notice('');
    } catch (err) {
      live.className = 'live bad';
      live.title = err.message;
      if (err.reason !== 'token-missing' && err.reason !== 'token-invalid' && err.reason !== 'admin-not-loopback') {
        notice('Cannot reach the appliance: ' + err.message);
      }
    }
    ui.ticks++;
    ui.timer = setTimeout(() => refresh(false), REFRESH_MS);
  }

  function remember() {
    const p = new URLSearchParams({ window: ui.window });
    if (ui.site !== 'all') p.set('site', ui.site);
    history.replaceState(null, '', '?' + p);
  }
  $('site').addEventListener('change', (e) => { ui.site = e.target.value; remember(); refresh(true); });
  $('window').addEventListener('change', (e) => { ui.window = e.target.value; remember(); refresh(true); });
  $('missed-crawler').addEventListener('change', () => refreshTop().catch(() => {}));
  $('crawler-view').addEventListener('change', () => refresh(false));
  $('slowest-crawler').addEventListener('change', () => refreshTop().catch(() => {}));

  // ---- the cache manager ----
  async function search() {
    const query = $('search-query').value.trim();
    status('search-status', 'searching…');
    try {
      const { data } = await api('/search', { method: 'POST', body: { query } });
      status('search-status', fmtInt(data.total) + (data.total === 1 ? ' page' : ' pages') + (data.total > data.results.length ? ', the first ' + data.results.length + ' shown' : ''));
      rows($('search-results').tBodies[0], data.results, (p) => el('tr', { dataset: { url: p.url } },
        el('td', { class: 'url' }, p.url), el('td', {}, p.adaptive_type), el('td', { class: 'n' }, p.status),
        el('td', {}, ago(p.rendered_at)), el('td', { class: 'n' }, fmtInt(p.hits)), el('td', { class: 'n' }, fmtBytes(p.size)),
        el('td', {},
          el('button', { type: 'button', class: 'link', onclick: () => purge(p.url) }, 'purge'),
          el('button', { type: 'button', class: 'link', onclick: () => recache([p.url]) }, 'recache'))),
      'no page matches');
    } catch (err) {
      status('search-status', err.message, true);
    }
  }

  async function purge(query) {
    status('purge-status', 'purging ' + query + '…');
    try {
      const { status: code, data } = await api('/cache-clear', { method: 'POST', body: { query } });
      if (code === 200) {
        status('purge-status', 'done: deleted ' + data.deleted + (data.deleted === 1 ? ' page' : ' pages'));
      } else {
        await followClear(data);
      }
      if ($('search-query').value.trim()) search();
    } catch (err) {
      status('purge-status', err.message, true);
    }
  }

  async function followClear(job) {
    for (;;) {
      status('purge-status', 'clearing ' + job.query + ': matched ' + fmtInt(job.matched) + ', deleted ' + fmtInt(job.deleted) + '…');
      await new Promise((r) => setTimeout(r, 1000));
      const { data } = await api('/cache-clear-status');
      if (data.id && job.id && data.id !== job.id) { status('purge-status', 'another clear replaced this one'); return; }
      job = data;
      if (job.status !== 'running') break;
    }
    const busy = job.rendering ? ', ' + job.rendering + ' left to their render' : '';
    status('purge-status', job.status + ': deleted ' + fmtInt(job.deleted) + ' of ' + fmtInt(job.matched) + ' matched' + busy + (job.error ? ' (' + job.error + ')' : ''), job.status === 'failed');
  }

  async function recache(urls) {
    status('recache-status', 'queueing ' + urls.length + ' URLs…');
    try {
      const { data } = await api('/recache', { method: 'POST', body: { urls } });
      const invalid = (data.invalid || []).map((i) => i.url + ': ' + i.reason).join('; ');
      status('recache-status', 'queued ' + data.queued + ', already queued ' + data.duplicate + (invalid ? '; refused ' + invalid : ''), !!invalid);
    } catch (err) {
      status('recache-status', err.message, true);
    }
  }

  $('search-form').addEventListener('submit', (e) => { e.preventDefault(); search(); });
  $('purge-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const q = $('purge-query').value.trim();
    if (q) purge(q);
  });
  $('recache-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const urls = $('recache-urls').value.split(/\s+/).filter(Boolean);
    if (urls.length) recache(urls);
  });
  $('sitemap-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const url = $('sitemap-url').value.trim();
    if (!url) return;
    status('sitemap-status', 'adding…');
    try {
      const { data } = await api('/sitemap', { method: 'POST', body: { url } });
      status('sitemap-status', 'added ' + data.url + ': it is read now, then with the others');
    } catch (err) {
      status('sitemap-status', err.message, true);
    }
  });
  $('speed-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const n = Number($('speed').value);
    status('speed-status', 'setting…');
    try {
      const { data } = await api('/change-recache-speed', { method: 'POST', body: { urlsPerHour: n } });
      status('speed-status', data.urlsPerHour ? 'now ' + fmtInt(data.urlsPerHour) + ' URLs per hour' : 'now automatic: as fast as the tabs allow');
    } catch (err) {
      status('speed-status', err.message, true);
    }
  });

  refresh(true);
})();
