'use strict';
/* The /ui/ page: services -> endpoints -> nodes with the counters of
 * `minik8s trace`, from GET /ui/api/trace (computed by the API server). The
 * token is asked once and kept in sessionStorage; every request sends it as a
 * Bearer header (no cookies). A watch of the service's EndpointSlices redraws
 * at once when endpoints change; a read every second keeps the counters live. */
(function () {
  const KEY = 'minik8s-token';
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (s) => document.querySelector(s);
  let token = sessionStorage.getItem(KEY);
  let current = null;      /* "ns/name" */
  let watchAbort = null;
  let timer = null;
  let busy = false;

  function headers() { return { Authorization: 'Bearer ' + token, Accept: 'application/json' }; }

  async function api(path) {
    const r = await fetch(path, { headers: headers(), credentials: 'omit' });
    if (r.status === 401) { logout('the token was refused'); throw new Error('unauthorized'); }
    const body = await r.json().catch(() => null);
    if (!r.ok) throw new Error((body && body.message) || ('HTTP ' + r.status));
    return body;
  }

  function status(text) { $('#status').textContent = text; }

  function logout(why) {
    sessionStorage.removeItem(KEY);
    token = null;
    stop();
    $('#app').hidden = true;
    $('#login').hidden = false;
    $('#login-error').textContent = why || '';
  }

  function stop() {
    if (watchAbort) watchAbort.abort();
    watchAbort = null;
    if (timer) clearInterval(timer);
    timer = null;
  }

  function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function box(svg, x, y, w, h, cls, lines, attrs) {
    const g = el('g', attrs || {});
    g.appendChild(el('rect', { x: x, y: y, width: w, height: h, rx: 6, class: cls }));
    lines.forEach((t, i) => {
      const a = { x: x + 8, y: y + 16 + i * 15 };
      if (t.id) a['data-counter'] = t.id;
      g.appendChild(el('text', a, t.text !== undefined ? t.text : t));
    });
    svg.appendChild(g);
  }

  function render(v) {
    const svg = $('#graph');
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const eps = [];
    (v.ports || []).forEach((p) => (p.endpoints || []).forEach((e) => eps.push({ p: p, e: e })));
    const nodes = (v.nodes || []).map((n) => n.name);
    eps.forEach((x) => { if (x.e.node && nodes.indexOf(x.e.node) < 0) nodes.push(x.e.node); });
    const rows = Math.max(eps.length, nodes.length, 1);
    svg.setAttribute('height', String(Math.max(200, rows * 80 + 20)));
    const svcY = 10;
    box(svg, 10, svcY, 250, 75, 'svc', [
      'service ' + v.service.namespace + '/' + v.service.name,
      v.service.type + ' ' + v.service.clusterIP,
      (v.ports || []).map((p) => p.port + '/' + p.protocol).join(', '),
      v.dnsName
    ], { 'data-service': v.service.namespace + '/' + v.service.name });
    eps.forEach((x, i) => {
      const y = 10 + i * 80, id = x.e.ip + ':' + x.e.port;
      svg.appendChild(el('line', { x1: 260, y1: svcY + 37, x2: 360, y2: y + 37 }));
      box(svg, 360, y, 280, 75, 'ep' + (x.e.ready ? '' : ' notready'), [
        'endpoint ' + id + ' (port ' + x.p.port + ')',
        'pod ' + (x.e.pod || '<none>') + (x.e.ready ? ', ready' : ', not ready'),
        { id: id, text: 'connections ' + x.e.connections },
        'active ' + x.e.activeConnections + (x.e.programmed ? '' : ', not programmed')
      ], { 'data-endpoint': id });
      const ni = nodes.indexOf(x.e.node);
      if (ni >= 0) svg.appendChild(el('line', { x1: 640, y1: y + 37, x2: 740, y2: 10 + ni * 80 + 37 }));
    });
    nodes.forEach((n, i) => {
      const info = (v.nodes || []).find((m) => m.name === n) || {};
      box(svg, 740, 10 + i * 80, 200, 75, 'node', [
        'node ' + n,
        info.error ? info.error : (info.tablePresent ? 'table ip minik8s present' : 'no table'),
      ], { 'data-node': n });
    });
    const tb = $('#rows tbody');
    while (tb.firstChild) tb.removeChild(tb.firstChild);
    eps.forEach((x) => {
      const tr = document.createElement('tr');
      [x.p.port + '/' + x.p.protocol, x.e.ip + ':' + x.e.port, x.e.pod || '<none>', x.e.node || '<none>',
        String(x.e.ready), String(x.e.programmed), String(x.e.connections), String(x.e.activeConnections)]
        .forEach((t) => { const td = document.createElement('td'); td.textContent = t; tr.appendChild(td); });
      tb.appendChild(tr);
    });
    const d = v.dns;
    $('#dns').textContent = 'DNS ' + v.dnsName + ' -> ' +
      (d ? (d.error ? 'no answer (' + d.error + ')' : (d.answers || []).join(', ') + ' (' + d.rcode + ' from ' +
        d.server + ' on ' + d.node + ')') : 'no node answered');
    $('#netpol').textContent = 'NetworkPolicy: ' + v.networkPolicy + ' (not part of the view yet)';
  }

  async function refresh() {
    if (!current || busy) return;
    busy = true;
    try {
      const [ns, name] = current.split('/');
      const v = await api('/ui/api/trace?namespace=' + encodeURIComponent(ns) + '&service=' +
        encodeURIComponent(name));
      render(v);
      status('updated ' + new Date().toLocaleTimeString());
    } catch (e) {
      status('error: ' + e.message);
    } finally {
      busy = false;
    }
  }

  /* the API's watch of the service's EndpointSlices: redraw on every event */
  async function watch(ns, name) {
    const ctl = new AbortController();
    watchAbort = ctl;
    const sel = encodeURIComponent('kubernetes.io/service-name=' + name);
    try {
      const r = await fetch('/apis/discovery.k8s.io/v1/namespaces/' + encodeURIComponent(ns) +
        '/endpointslices?watch=true&labelSelector=' + sel, { headers: headers(), signal: ctl.signal, credentials: 'omit' });
      if (!r.ok || !r.body) return;
      const reader = r.body.getReader();
      for (;;) {
        const { done } = await reader.read();
        if (done) break;
        refresh();
      }
    } catch (e) { /* aborted or dropped: the periodic read goes on */ }
    if (watchAbort === ctl && !ctl.signal.aborted) setTimeout(() => { if (watchAbort === ctl) watch(ns, name); }, 2000);
  }

  function select(key) {
    stop();
    current = key;
    if (!key) return;
    const [ns, name] = key.split('/');
    watch(ns, name);
    timer = setInterval(refresh, 1000);
    refresh();
  }

  async function start() {
    $('#login').hidden = true;
    $('#app').hidden = false;
    let list;
    try { list = await api('/api/v1/services'); } catch (e) { status('error: ' + e.message); return; }
    const s = $('#svc');
    while (s.firstChild) s.removeChild(s.firstChild);
    (list.items || []).forEach((it) => {
      const o = document.createElement('option');
      o.value = o.textContent = it.metadata.namespace + '/' + it.metadata.name;
      s.appendChild(o);
    });
    const want = decodeURIComponent(location.hash.slice(1));
    if (want && [...s.options].some((o) => o.value === want)) s.value = want;
    select(s.value);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('#login').addEventListener('submit', (ev) => {
      ev.preventDefault();
      token = $('#token').value.trim();
      if (!token) return;
      sessionStorage.setItem(KEY, token);
      start();
    });
    $('#logout').addEventListener('click', () => logout(''));
    $('#svc').addEventListener('change', (ev) => { location.hash = ev.target.value; select(ev.target.value); });
    if (token) start(); else logout('');
  });
})();
