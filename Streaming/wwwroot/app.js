// StreamLstm dashboard: overview and live alerts over one EventSource, a key view over another (sampled per key by the
// server). No framework; uPlot (vendored) draws the charts. Works offline: everything is served by the service.
(function () {
  'use strict';
  const params = new URLSearchParams(location.search);
  const token = params.get('access_token');
  const MAX_POINTS = 600, MAX_ALERTS = 200, Z80 = 1.2816, Z95 = 1.96;
  const $ = (id) => document.getElementById(id);
  const api = (path, query) => {
    const q = new URLSearchParams(query || {});
    if (token) q.set('access_token', token);
    const s = q.toString();
    return path + (s ? '?' + s : '');
  };
  const fmt = (v, d) => v == null || Number.isNaN(v) ? '–' : Number(v).toLocaleString('en-US', { maximumFractionDigits: d ?? 0, minimumFractionDigits: d ?? 0 });
  const time = (ms) => new Date(ms).toISOString().substring(11, 19);
  const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text != null) e.textContent = text; return e; };

  const state = { kind: 'tick', key: null, points: [], keySource: null, keyChart: null, scoreChart: null, received: 0, searchTimer: 0, results: [], active: -1 };
  window.streamlstm = state; // for tests and curious people

  // ---- overview + live alerts ------------------------------------------------------------------------------------
  function connectOverview() {
    const es = new EventSource(api('/api/stream/overview'));
    es.onopen = () => setStatus('live', 'live');
    es.onerror = () => setStatus('error', 'reconnecting…');
    es.addEventListener('overview', (e) => renderOverview(JSON.parse(e.data)));
    es.addEventListener('alerts', (e) => JSON.parse(e.data).forEach(addAlert));
  }

  function setStatus(s, text) { const st = $('status'); st.dataset.state = s; st.textContent = text; }

  function renderOverview(o) {
    $('t-rate').textContent = fmt(o.eventsPerSecond);
    $('t-lag').textContent = fmt(o.lag);
    $('t-latency').textContent = fmt(o.p50Ms, 1) + ' / ' + fmt(o.p99Ms, 1) + ' ms';
    $('t-step').textContent = fmt(o.stepP50Ms, 2) + ' / ' + fmt(o.stepP99Ms, 2) + ' ms';
    $('t-events').textContent = fmt(o.totals.events);
    $('t-dlq').textContent = fmt(o.totals.deadLetters);
    $('t-late').textContent = fmt(o.totals.late);
    $('t-keys').textContent = fmt(o.totals.keys);
    $('t-alerts').textContent = fmt(o.alerts.open) + ' / ' + fmt(o.alerts.raised);
    const body = $('kinds').tBodies[0];
    body.replaceChildren(...o.kinds.map((k) => {
      const tr = el('tr');
      tr.dataset.kind = k.kind;
      [k.kind, fmt(k.eventsPerSecond), fmt(k.lag), fmt(k.p50Ms, 1), fmt(k.p99Ms, 1), fmt(k.keys), k.model || ''].forEach((v) => tr.appendChild(el('td', null, v)));
      return tr;
    }));
    if (state.key === null && o.kinds.length) $('key-count').textContent = '';
  }

  function alertItem(a) {
    const li = el('li');
    li.dataset.kind = a.kind; li.dataset.key = a.key; li.dataset.state = a.state; li.dataset.id = a.id; li.dataset.observed = String(a.observed);
    li.title = `${a.id}\nobserved ${a.observed} vs forecast ${fmt(a.mu, 3)} ± ${fmt(a.sigma, 3)}\nmodel ${a.model}`;
    li.appendChild(el('span', 'muted', time(a.eventMs)));
    li.appendChild(el('span', 'badge ' + a.state, a.state));
    li.appendChild(el('span', 'sev-' + a.severity, `${a.kind}/${a.key}`));
    li.appendChild(el('span', 'num', fmt(a.peak, 1)));
    li.onclick = () => selectKey(a.kind, a.key);
    return li;
  }

  function addAlert(a) {
    const list = $('alert-list');
    list.insertBefore(alertItem(a), list.firstChild);
    while (list.childElementCount > MAX_ALERTS) list.lastChild.remove();
  }

  async function loadAlerts() {
    const r = await fetch(api('/api/alerts'));
    if (r.ok) (await r.json()).alerts.forEach(addAlert);
  }

  // ---- key search -------------------------------------------------------------------------------------------------
  let searchSeq = 0;
  async function search() {
    const q = $('key-search').value, seq = ++searchSeq;
    const r = await fetch(api('/api/keys', { kind: state.kind, q, limit: 30 }));
    if (!r.ok || seq !== searchSeq) return; // a newer search is under way: drop this older answer
    const res = await r.json();
    state.results = res.keys; state.active = -1;
    $('key-count').textContent = `${res.total.toLocaleString('en-US')} ${res.kind} keys match`;
    const ul = $('key-results');
    ul.replaceChildren(...res.keys.map((k, i) => {
      const li = el('li', k.alertOpen ? 'open' : null);
      li.dataset.key = k.key; li.setAttribute('role', 'option');
      li.appendChild(el('span', null, k.key));
      li.appendChild(el('span', 'score', k.score == null ? '' : 'score ' + fmt(k.score, 1)));
      li.onmousedown = (e) => { e.preventDefault(); selectKey(state.kind, k.key); };
      return li;
    }));
    ul.hidden = res.keys.length === 0;
  }

  function onSearchInput() { clearTimeout(state.searchTimer); state.searchTimer = setTimeout(search, 120); }

  function onSearchKey(e) {
    const items = $('key-results').children;
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault();
      state.active = Math.max(0, Math.min(items.length - 1, state.active + (e.key === 'ArrowDown' ? 1 : -1)));
      Array.from(items).forEach((li, i) => li.classList.toggle('active', i === state.active));
    } else if (e.key === 'Enter' && state.results.length) {
      selectKey(state.kind, state.results[Math.max(0, state.active)].key);
    } else if (e.key === 'Escape') {
      $('key-results').hidden = true;
    }
  }

  // ---- key view ---------------------------------------------------------------------------------------------------
  function selectKey(kind, key) {
    if (state.keySource) state.keySource.close();
    state.kind = kind; state.key = key; state.points = []; state.received = 0;
    $('kind').value = kind;
    $('key-search').value = key;
    $('key-results').hidden = true;
    $('key-title').textContent = `${kind} / ${key}`;
    $('key-title').classList.remove('muted');
    $('key-chart').dataset.points = '0';
    $('key-chart').dataset.key = key;
    $('key-alerts').replaceChildren();
    fetch(api('/api/alerts', { kind, key })).then((r) => r.ok ? r.json() : { alerts: [] }).then((r) => r.alerts.forEach(addKeyAlert));
    const es = new EventSource(api('/api/stream/key', { kind, key }));
    es.addEventListener('point', (e) => addPoint(JSON.parse(e.data)));
    es.addEventListener('alerts', (e) => JSON.parse(e.data).forEach(addKeyAlert));
    state.keySource = es;
    render();
  }

  function addKeyAlert(a) {
    const list = $('key-alerts');
    list.insertBefore(alertItem(a), list.firstChild);
    while (list.childElementCount > 50) list.lastChild.remove();
  }

  function addPoint(p) {
    state.points.push(p);
    if (state.points.length > MAX_POINTS) state.points.shift();
    state.received++;
    $('key-chart').dataset.points = String(state.received);
    scheduleRender();
  }

  let renderPending = false;
  function scheduleRender() { if (!renderPending) { renderPending = true; requestAnimationFrame(() => { renderPending = false; render(); }); } }

  // Series: observed; the one-step forecast made one row earlier (μ with 80 % / 95 % bands) under each observation;
  // then the latest row's forecast for horizons 1..K to the right of the last observation.
  function chartData() {
    const pts = state.points;
    const xs = [], obs = [], mu = [], lo80 = [], hi80 = [], lo95 = [], hi95 = [];
    const push = (x, o, m, s) => {
      xs.push(x); obs.push(o); mu.push(m);
      lo80.push(m == null ? null : m - Z80 * s); hi80.push(m == null ? null : m + Z80 * s);
      lo95.push(m == null ? null : m - Z95 * s); hi95.push(m == null ? null : m + Z95 * s);
    };
    for (let i = 0; i < pts.length; i++) {
      const prev = i > 0 ? pts[i - 1] : null;
      push(pts[i].ts / 1000, pts[i].observed, prev ? prev.mu[0] : null, prev ? prev.sigma[0] : 0);
    }
    if (pts.length >= 1) {
      const last = pts[pts.length - 1];
      const gaps = [];
      for (let i = Math.max(1, pts.length - 20); i < pts.length; i++) gaps.push(pts[i].ts - pts[i - 1].ts);
      gaps.sort((a, b) => a - b);
      const dt = (gaps.length ? Math.max(1, gaps[gaps.length >> 1]) : 1000) / 1000;
      for (let k = 0; k < last.mu.length; k++) push(last.ts / 1000 + (k + 1) * dt, null, last.mu[k], last.sigma[k] || 0);
    }
    return [xs, obs, mu, lo80, hi80, lo95, hi95];
  }

  function width() { return Math.max(300, $('key-chart').clientWidth || 600); }

  function render() {
    const data = chartData();
    if (!state.keyChart) {
      state.keyChart = new uPlot({
        width: width(), height: 300,
        scales: { x: { time: true } },
        axes: [{ stroke: '#7d8793', grid: { stroke: '#222b35' } }, { stroke: '#7d8793', grid: { stroke: '#222b35' }, size: 70 }],
        series: [
          {},
          { label: 'observed', stroke: '#d7dde4', width: 1.5, spanGaps: false },
          { label: 'forecast μ', stroke: '#4fa3ff', width: 1.5, dash: [4, 3] },
          { label: '80 % low', stroke: 'transparent', points: { show: false } }, { label: '80 % high', stroke: 'transparent', points: { show: false } },
          { label: '95 % low', stroke: 'transparent', points: { show: false } }, { label: '95 % high', stroke: 'transparent', points: { show: false } },
        ],
        bands: [
          { series: [6, 5], fill: 'rgba(79,163,255,0.12)' },
          { series: [4, 3], fill: 'rgba(79,163,255,0.25)' },
        ],
        legend: { show: false },
      }, data, $('key-chart'));
      $('key-legend').innerHTML = '<span><i style="background:#d7dde4"></i>observed</span><span><i style="background:#4fa3ff"></i>forecast μ (h=1 under each point; h=1..K ahead)</span><span><i style="background:rgba(79,163,255,0.45)"></i>80 %</span><span><i style="background:rgba(79,163,255,0.2)"></i>95 %</span>';
    } else {
      state.keyChart.setData(data);
    }
    const sx = state.points.map((p) => p.ts / 1000), sy = state.points.map((p) => p.score);
    const threshold = sx.map(() => 3);
    if (!state.scoreChart) {
      state.scoreChart = new uPlot({
        width: width(), height: 110,
        scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(5, max || 0)] } },
        axes: [{ stroke: '#7d8793', grid: { stroke: '#222b35' } }, { stroke: '#7d8793', grid: { stroke: '#222b35' }, size: 70 }],
        series: [{}, { label: 'score', stroke: '#e3a32d', width: 1.5 }, { label: 'enter threshold', stroke: '#e5484d', dash: [2, 4], width: 1, points: { show: false } }],
        legend: { show: false },
      }, [sx, sy, threshold], $('score-chart'));
    } else {
      state.scoreChart.setData([sx, sy, threshold]);
    }
  }

  window.addEventListener('resize', () => {
    if (state.keyChart) state.keyChart.setSize({ width: width(), height: 300 });
    if (state.scoreChart) state.scoreChart.setSize({ width: width(), height: 110 });
  });

  $('kind').onchange = (e) => { state.kind = e.target.value; $('key-search').value = ''; search(); };
  $('key-search').addEventListener('input', onSearchInput);
  $('key-search').addEventListener('keydown', onSearchKey);
  $('key-search').addEventListener('focus', search);
  $('key-search').addEventListener('blur', () => setTimeout(() => { $('key-results').hidden = true; }, 150));

  loadAlerts().finally(connectOverview);
  if (params.get('kind') && params.get('key')) selectKey(params.get('kind'), params.get('key'));
})();
