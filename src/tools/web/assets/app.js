// hvkit's web view: the VM table (live over Server-Sent Events), drill-down charts (uPlot) and
// histogram heatmaps (a canvas drawn here). Uses only the JSON API documented in README.md.
/* global uPlot, hvkitMarkdown */
(() => {
  const $ = (id) => document.getElementById(id);
  const RATE_COLS = ['exits', 'halt', 'io', 'mmio', 'run'];
  const COLORS = ['#3b6fd8', '#d8533b', '#2e9c5a', '#9b4fd1', '#c79a00', '#1aa3b8', '#8a5a2b', '#e0489b'];

  const view = {
    vms: [],
    seq: 0,
    sort: { col: 'name', descending: false },
    filter: null,
    selected: undefined,
    open: undefined,
    events: [],
    charts: {},
    tab: 'vms',
  };

  // ---- formatting -------------------------------------------------------------------------
  function fmtRate(v) {
    if (v === undefined || v === null) return '-';
    if (v >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
    if (v >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
    return v.toFixed(1);
  }
  function fmtTime(ms) {
    return new Date(ms).toLocaleTimeString();
  }
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs ?? {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c) node.append(c);
    return node;
  }

  // ---- the table --------------------------------------------------------------------------
  function sortValue(vm, col) {
    if (RATE_COLS.includes(col)) return vm.rates[col] ?? -1;
    if (col === 'p99') return vm.latencyP99 ? Number(vm.latencyP99.upper ?? vm.latencyP99.lower) : -1;
    if (col === 'vcpus') return vm.vcpus.length;
    if (col === 'domid') return vm.domid ?? -1;
    return vm[col];
  }
  function matches(vm) {
    if (!view.filter) return true;
    return [vm.name, vm.key, String(vm.pid), vm.domid === null ? '' : String(vm.domid)].some((t) =>
      view.filter.test(t),
    );
  }
  function visibleVms() {
    const { col, descending } = view.sort;
    const list = view.vms.filter(matches);
    list.sort((a, b) => {
      const x = sortValue(a, col);
      const y = sortValue(b, col);
      const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return (descending ? -c : c) || a.key.localeCompare(b.key);
    });
    return list;
  }
  function rateCells(rates) {
    return RATE_COLS.map((c) =>
      el('td', { class: 'num', 'data-col': c, 'data-value': rates[c] ?? '', text: fmtRate(rates[c]) }),
    );
  }
  function renderTable() {
    const body = document.querySelector('#vms tbody');
    const rows = [];
    const list = visibleVms();
    if (view.selected && !list.some((v) => v.key === view.selected)) view.selected = undefined;
    for (const vm of list) {
      const name = el('td', { 'data-col': 'name' }, vm.name);
      if (vm.domidReused) name.append(el('span', { class: 'badge reused', text: 'domid reused' }));
      const tr = el(
        'tr',
        { class: 'vm', 'data-key': vm.key, 'aria-selected': String(vm.key === view.selected), title: vm.key },
        name,
        el('td', { 'data-col': 'pid', text: String(vm.pid) }),
        el('td', { 'data-col': 'owner', text: vm.owner }),
        el('td', { 'data-col': 'domid', text: vm.domid === null ? '-' : String(vm.domid) }),
        el('td', { 'data-col': 'vcpus', text: String(vm.vcpus.length) }),
        ...rateCells(vm.rates),
        el('td', { class: 'num', 'data-col': 'p99', text: vm.p99Text ?? '-' }),
      );
      tr.addEventListener('click', () => {
        view.selected = vm.key;
        openVm(vm.key);
      });
      rows.push(tr);
      for (const v of vm.vcpus) {
        rows.push(
          el(
            'tr',
            { class: 'vcpu', 'data-key': vm.key, 'data-vcpu': String(v.index) },
            el('td', { text: `vcpu ${v.index}` }),
            el('td'),
            el('td'),
            el('td'),
            el('td'),
            ...rateCells(v.rates),
            el('td', { class: 'num', text: '' }),
          ),
        );
      }
    }
    body.replaceChildren(...rows);
    $('vms').dataset.seq = String(view.seq);
    $('empty').hidden = list.length > 0;
    for (const th of document.querySelectorAll('#vms th')) {
      th.setAttribute(
        'aria-sort',
        th.dataset.col === view.sort.col ? (view.sort.descending ? 'descending' : 'ascending') : 'none',
      );
    }
  }
  function sortBy(col) {
    view.sort =
      view.sort.col === col
        ? { col, descending: !view.sort.descending }
        : { col, descending: RATE_COLS.includes(col) || col === 'p99' };
    renderTable();
  }
  function moveSelection(by) {
    const list = visibleVms();
    if (list.length === 0) return;
    const i = list.findIndex((v) => v.key === view.selected);
    const next = i < 0 ? (by > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, i + by));
    view.selected = list[next].key;
    renderTable();
    document.querySelector(`#vms tr.vm[aria-selected="true"]`)?.scrollIntoView({ block: 'nearest' });
  }

  // ---- events -----------------------------------------------------------------------------
  function eventItem(e) {
    return el(
      'li',
      { class: e.kind, 'data-kind': e.kind, 'data-key': e.vmKey },
      el('span', { class: 'kind', text: e.kind === 'domid-reused' ? 'domid reused' : e.kind }),
      ` ${fmtTime(e.at)} ${e.text}`,
    );
  }
  function eventId(e) {
    return `${e.at}\u0000${e.kind}\u0000${e.vmKey}\u0000${e.text}`;
  }
  function renderEvents() {
    $('events').replaceChildren(...[...view.events].reverse().map(eventItem));
  }

  // ---- drill-down -------------------------------------------------------------------------
  function lineChart(id, names, xs, columns, yLabel) {
    const host = $(id);
    const signature = names.join('\u0000');
    let chart = view.charts[id];
    if (!chart || chart.signature !== signature) {
      chart?.plot.destroy();
      host.replaceChildren();
      const opts = {
        width: Math.max(360, host.clientWidth || 480),
        height: 200,
        series: [{}, ...names.map((n, i) => ({ label: n, stroke: COLORS[i % COLORS.length], width: 1.5 }))],
        axes: [{}, { label: yLabel }],
        legend: { live: false },
      };
      chart = { signature, plot: new uPlot(opts, [xs, ...columns], host) };
      view.charts[id] = chart;
    } else {
      chart.plot.setData([xs, ...columns]);
    }
    host.dataset.points = String(xs.length);
  }
  function destroyCharts() {
    for (const c of Object.values(view.charts)) c.plot.destroy();
    view.charts = {};
  }
  function heatColor(fraction) {
    // White → deep blue on a log scale of counts.
    const t = Math.max(0, Math.min(1, fraction));
    const r = Math.round(255 - t * 225);
    const g = Math.round(255 - t * 165);
    const b = Math.round(255 - t * 55);
    return `rgb(${r},${g},${b})`;
  }
  function drawHeatmap(canvas, shape, columns) {
    const ctx = canvas.getContext('2d');
    const rowsUsed = columns.flatMap((c) => c.buckets.flatMap((n, i) => (n > 0 ? [i] : [])));
    const low = rowsUsed.length ? Math.max(0, Math.min(...rowsUsed) - 1) : 0;
    const high = rowsUsed.length
      ? Math.min(shape.labels.length - 1, Math.max(...rowsUsed) + 1)
      : Math.min(4, shape.labels.length - 1);
    const rows = high - low + 1;
    const left = 80;
    const cell = Math.max(3, Math.floor(600 / Math.max(1, columns.length)));
    const rowH = Math.max(8, Math.min(18, Math.floor(240 / rows)));
    canvas.width = left + Math.max(1, columns.length) * cell + 10;
    canvas.height = rows * rowH + 20;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    const max = Math.max(1, ...columns.flatMap((c) => c.buckets));
    columns.forEach((c, x) => {
      for (let i = low; i <= high; i++) {
        const n = c.buckets[i] ?? 0;
        if (n === 0) continue;
        ctx.fillStyle = heatColor(Math.log1p(n) / Math.log1p(max));
        ctx.fillRect(left + x * cell, (high - i) * rowH, cell, rowH);
      }
    });
    ctx.fillStyle = '#5b6475';
    ctx.font = '10px system-ui, sans-serif';
    for (let i = low; i <= high; i++) ctx.fillText(`≥${shape.labels[i]}`, 2, (high - i) * rowH + rowH - 3);
    const line = (key, color) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      let started = false;
      columns.forEach((c, x) => {
        if (c[key] === null || c[key] === undefined) return;
        const y = (high - c[key]) * rowH + rowH / 2;
        if (started) ctx.lineTo(left + x * cell + cell / 2, y);
        else ctx.moveTo(left + x * cell + cell / 2, y);
        started = true;
      });
      ctx.stroke();
    };
    line('p50', '#2e9c5a');
    line('p99', '#d8533b');
    ctx.fillStyle = '#2e9c5a';
    ctx.fillText('p50', left, canvas.height - 5);
    ctx.fillStyle = '#d8533b';
    ctx.fillText('p99', left + 30, canvas.height - 5);
    canvas.dataset.columns = String(columns.length);
    canvas.dataset.rendered = 'true';
  }
  function renderHeatmaps(doc) {
    const host = $('heatmaps');
    const wanted = doc.histograms.map((h) => h.name);
    for (const child of [...host.children]) if (!wanted.includes(child.dataset.name)) child.remove();
    for (const shape of doc.histograms) {
      let box = [...host.children].find((c) => c.dataset.name === shape.name);
      if (!box) {
        box = el(
          'div',
          { class: 'heatmap', 'data-name': shape.name },
          el('div', { text: `${shape.name} (${shape.origin})` }),
          el('canvas', { 'aria-label': `heatmap of ${shape.name}` }),
        );
        host.append(box);
      }
      const columns = doc.points.map((p) => p.histograms[shape.name] ?? { buckets: [], p50: null, p99: null });
      drawHeatmap(box.querySelector('canvas'), shape, columns);
    }
    if (doc.histograms.length === 0) host.replaceChildren(el('p', { text: 'This VM reports no histogram.' }));
  }
  function renderDetail(doc) {
    const vm = doc.vm;
    $('detail').dataset.key = vm.key;
    $('detail-title').textContent = vm.name;
    const identity = `key ${vm.key} · pid ${vm.pid} · ${vm.owner}${vm.domid === null ? '' : ` · domid ${vm.domid}`}${vm.uniqueId === null ? '' : ` · unique id ${BigInt(vm.uniqueId).toString(16)}`} · sources ${vm.sources.join(', ')}${vm.note ? ` · ${vm.note}` : ''}`;
    $('detail-identity').replaceChildren(identity);
    if (vm.domidReused) $('detail-identity').append(el('span', { class: 'badge reused', text: 'domid reused' }));
    const xs = doc.points.map((p) => p.t / 1000);
    const reasons = [...new Set(doc.points.flatMap((p) => Object.keys(p.reasons)))].sort();
    lineChart(
      'chart-reasons',
      reasons,
      xs,
      reasons.map((r) => doc.points.map((p) => p.reasons[r] ?? null)),
      'exits/s',
    );
    const rateNames = RATE_COLS.filter((c) => doc.points.some((p) => p.rates[c] !== undefined));
    lineChart(
      'chart-rates',
      rateNames,
      xs,
      rateNames.map((r) => doc.points.map((p) => p.rates[r] ?? null)),
      '/s, %',
    );
    const vcpuIds = [...new Set(doc.points.flatMap((p) => p.vcpus.map((v) => v.index)))].sort((a, b) => a - b);
    const perVcpu = (metric) =>
      vcpuIds.map((i) => doc.points.map((p) => p.vcpus.find((v) => v.index === i)?.rates[metric] ?? null));
    lineChart(
      'chart-vcpus',
      vcpuIds.map((i) => `vcpu ${i}`),
      xs,
      perVcpu('exits'),
      'exits/s',
    );
    lineChart(
      'chart-vcpu-halt',
      vcpuIds.map((i) => `vcpu ${i}`),
      xs,
      perVcpu('halt'),
      'halts/s',
    );
    lineChart(
      'chart-vcpu-io',
      vcpuIds.map((i) => `vcpu ${i}`),
      xs,
      perVcpu('io'),
      'I/O exits/s',
    );
    lineChart(
      'chart-vcpu-run',
      vcpuIds.map((i) => `vcpu ${i}`),
      xs,
      perVcpu('run'),
      'run %',
    );
    renderHeatmaps(doc);
    $('detail-events').replaceChildren(...[...doc.events].reverse().map(eventItem));
    if (doc.events.length === 0)
      $('detail-events').replaceChildren(el('li', { text: 'none since hvkit export started' }));
  }
  let detailRequest = 0;
  async function refreshDetail() {
    if (!view.open) return;
    const key = view.open;
    const ticket = ++detailRequest;
    const r = await fetch(`/api/vms/${encodeURIComponent(key)}`);
    if (ticket !== detailRequest || view.open !== key) return;
    if (r.status === 404) {
      $('detail-identity').textContent = 'This VM is no longer on the host.';
      $('detail').dataset.gone = 'true';
      return;
    }
    renderDetail(await r.json());
  }
  function openVm(key) {
    view.open = key;
    view.selected = key;
    $('list').hidden = true;
    $('events-section').hidden = true;
    $('detail').hidden = false;
    delete $('detail').dataset.gone;
    destroyCharts();
    $('heatmaps').replaceChildren();
    refreshDetail();
    $('back').focus();
  }
  function closeVm() {
    view.open = undefined;
    destroyCharts();
    $('detail').hidden = true;
    $('list').hidden = false;
    $('events-section').hidden = false;
    renderTable();
  }

  // ---- ABIs -------------------------------------------------------------------------------
  function verdict(check) {
    const text = check.ok
      ? `compatible${check.warnings ? ` (${check.warnings} warning${check.warnings === 1 ? '' : 's'})` : ''}`
      : `${check.errors} error${check.errors === 1 ? '' : 's'}`;
    return el('span', { class: `verdict ${check.ok ? 'ok' : 'bad'}`, text });
  }
  async function showAbis() {
    const doc = await (await fetch('/api/abis')).json();
    const rows = doc.abis.map((abi) => {
      const tr = el(
        'tr',
        { 'data-abi': abi.name, tabindex: '0' },
        el('td', { text: abi.name }),
        el('td', { text: abi.major === null ? '-' : String(abi.major) }),
        el('td', { text: abi.revisions.map((r) => r.revision).join(', ') || 'none' }),
        el('td', {}, verdict(abi.check)),
      );
      tr.addEventListener('click', () => openAbi(abi.name));
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter') openAbi(abi.name);
      });
      return tr;
    });
    document.querySelector('#abi-list tbody').replaceChildren(...rows);
    $('abi-list').dataset.loaded = 'true';
  }
  async function openAbi(name) {
    const doc = await (await fetch(`/api/abis/${encodeURIComponent(name)}`)).json();
    $('abi-title').replaceChildren(name, ' ', verdict(doc.check));
    $('abi-check').textContent = doc.check.lines.join('\n');
    $('abi-revisions').replaceChildren(
      ...doc.revisions.map((r) =>
        el(
          'li',
          {},
          el('a', {
            href: `/api/abis/${encodeURIComponent(name)}/revisions/${r.revision}`,
            text: `revision ${r.revision}`,
          }),
          ` (major ${r.major})`,
        ),
      ),
    );
    if (doc.revisions.length === 0) $('abi-revisions').replaceChildren(el('li', { text: 'none frozen yet' }));
    if (doc.markdown === null) {
      $('abi-doc').replaceChildren(el('p', { class: 'error', text: `cannot generate: ${doc.markdownError}` }));
      $('abi-doc-source').textContent = '';
    } else {
      $('abi-doc').replaceChildren(hvkitMarkdown(doc.markdown));
      $('abi-doc-source').textContent = doc.markdown;
    }
    $('abi-list').hidden = true;
    $('abi-detail').hidden = false;
    $('abi-detail').dataset.abi = name;
    $('abi-back').focus();
  }
  function closeAbi() {
    $('abi-detail').hidden = true;
    $('abi-list').hidden = false;
  }
  function showTab(tab) {
    view.tab = tab;
    $('tab-vms').setAttribute('aria-pressed', String(tab === 'vms'));
    $('tab-abis').setAttribute('aria-pressed', String(tab === 'abis'));
    $('abis').hidden = tab !== 'abis';
    $('list').hidden = tab !== 'vms' || view.open !== undefined;
    $('events-section').hidden = tab !== 'vms' || view.open !== undefined;
    $('detail').hidden = tab !== 'vms' || view.open === undefined;
    if (tab === 'abis') showAbis();
  }
  $('tab-vms').addEventListener('click', () => showTab('vms'));
  $('tab-abis').addEventListener('click', () => showTab('abis'));
  $('abi-back').addEventListener('click', closeAbi);

  // ---- keys -------------------------------------------------------------------------------
  document.addEventListener('keydown', (e) => {
    if (view.tab === 'abis') {
      if (e.key === 'Escape' && !$('abi-detail').hidden) closeAbi();
      return;
    }
    if (e.target === $('filter')) {
      if (e.key === 'Escape' || e.key === 'Enter') $('filter').blur();
      return;
    }
    if (e.target instanceof HTMLElement && e.target.tagName === 'TH' && (e.key === 'Enter' || e.key === ' ')) {
      e.preventDefault();
      sortBy(e.target.dataset.col);
      return;
    }
    if (view.open) {
      if (e.key === 'Escape' || e.key === 'Backspace') {
        e.preventDefault();
        closeVm();
      }
      return;
    }
    if (e.key === 'ArrowDown' || e.key === 'j') {
      e.preventDefault();
      moveSelection(1);
    } else if (e.key === 'ArrowUp' || e.key === 'k') {
      e.preventDefault();
      moveSelection(-1);
    } else if (e.key === 'Enter' && view.selected) {
      e.preventDefault();
      openVm(view.selected);
    } else if (e.key === '/') {
      e.preventDefault();
      $('filter').focus();
    } else if (e.key === 'Escape') {
      view.selected = undefined;
      renderTable();
    }
  });
  $('back').addEventListener('click', closeVm);
  for (const th of document.querySelectorAll('#vms th')) th.addEventListener('click', () => sortBy(th.dataset.col));
  $('filter').addEventListener('input', () => {
    const text = $('filter').value;
    try {
      view.filter = text ? new RegExp(text, 'i') : null;
      $('filter-error').textContent = '';
    } catch (err) {
      $('filter-error').textContent = `not a regex: ${err.message}`;
      return;
    }
    renderTable();
  });

  // ---- live updates -----------------------------------------------------------------------
  function hostGone(why) {
    $('gone').hidden = false;
    $('gone-text').textContent = why;
    $('status').textContent = 'disconnected';
    $('status').className = '';
    document.body.dataset.connection = 'gone';
  }
  function connect() {
    const stream = new EventSource('/api/events/stream');
    stream.addEventListener('open', () => {
      $('gone').hidden = true;
      document.body.dataset.connection = 'live';
      $('status').textContent = 'live';
      $('status').className = 'live';
    });
    stream.addEventListener('sample', (message) => {
      const update = JSON.parse(message.data);
      view.vms = update.vms;
      view.seq = update.seq;
      // The first message repeats the latest sample, whose events /api/events may already hold.
      const seen = new Set(view.events.map(eventId));
      view.events = [...view.events, ...update.events.filter((e) => !seen.has(eventId(e)))].slice(-200);
      $('status').textContent = `live · sample ${update.seq} at ${fmtTime(update.t)}`;
      renderTable();
      if (update.events.length > 0) renderEvents();
      refreshDetail();
    });
    stream.addEventListener('error', () => {
      hostGone(
        `hvkit at ${location.host} does not answer (the exporter or the demo stopped, or the host went away); the numbers shown are the last it sent. Retrying…`,
      );
    });
  }
  fetch('/api/events')
    .then((r) => r.json())
    .then((doc) => {
      view.events = doc.events;
      renderEvents();
    })
    .catch(() => hostGone(`hvkit at ${location.host} does not answer.`))
    .finally(connect);
})();
