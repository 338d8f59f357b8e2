// The activity log viewer. It reads /api/v1 with the token the user typed:
// kept in sessionStorage (gone with the tab), sent as an Authorization
// header, never put in a URL. Event data only ever reaches the page as
// text (textContent), never as markup.
'use strict';

const TOKEN_KEY = 'auditproxy.token';
const COLUMNS_KEY = 'auditproxy.columns';
const PAGE_SIZE = 50;
const FACET_LIMIT = 200;
const RECONNECT_MS = 3000;

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

// el builds an element; strings among children become text nodes.
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c != null && c !== '') e.append(c);
  return e;
}

// Times: the table shows the viewer's local time; the UTC time, exactly as
// recorded, is in the tooltip. Presets are computed by the server in the
// viewer's zone (tz parameter) so "today" means the viewer's today.
const TZ = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
const localFormat = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const localTime = (iso) => { const d = new Date(iso); return isNaN(d) ? iso : localFormat.format(d); };
const utcTime = (iso) => String(iso).replace('T', ' ').replace(/Z$/, ' UTC');

// COLUMNS of the table, in order; "on" is the default visibility, which
// the column chooser overrides (kept in localStorage).
const COLUMNS = [
  { id: 'actor', label: 'Actor', on: true, cell: actorCell },
  { id: 'action', label: 'Action / Description', on: true, cell: actionCell },
  { id: 'target', label: 'Target', on: true, cell: targetCell },
  { id: 'area', label: 'Area', on: false, cell: (ev) => text(ev.area) },
  { id: 'outcome', label: 'Outcome', on: false, cell: (ev) => el('span', { class: `outcome ${ev.outcome}`, text: ev.outcome }) },
  { id: 'severity', label: 'Severity', on: false, cell: (ev) => text(ev.severity || 'info') },
  { id: 'country', label: 'Country', on: true, cell: (ev) => text(ev.source?.country) },
  { id: 'ip', label: 'IP', on: true, cell: (ev) => el('span', { class: 'mono', text: ev.source?.ip || '—' }) },
  { id: 'agent', label: 'User agent', on: false, cell: (ev) => el('span', { class: 'clip', title: ev.source?.user_agent, text: ev.source?.user_agent || '—' }) },
  { id: 'request', label: 'Request', on: false, cell: requestCell },
  { id: 'time', label: 'Date', on: true, cell: (ev) => el('time', { datetime: ev.time, title: utcTime(ev.time), text: localTime(ev.time) }) },
];

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  preset: 'last7d',
  from: '',
  to: '',
  q: '',
  filters: { action: [], area: [], actor: [], country: [] },
  events: [], // in table order, newest first
  byId: new Map(),
  next: '',
  total: null,
  paused: false,
  pending: [], // live events held while paused, oldest first
  stream: null, // AbortController of the live stream
  lastEventId: '', // id of the last live event, to resume after it on reconnect
  generation: 0, // bumped by every reload: answers to an older one are dropped
  columns: loadColumns(),
};

function loadColumns() {
  try {
    const saved = JSON.parse(localStorage.getItem(COLUMNS_KEY));
    if (Array.isArray(saved)) return new Set(saved.filter((id) => COLUMNS.some((c) => c.id === id)));
  } catch { /* nothing saved, or not ours */ }
  return new Set(COLUMNS.filter((c) => c.on).map((c) => c.id));
}

const text = (s) => (s ? String(s) : '—');

function actorCell(ev) {
  const a = ev.actor || {};
  if (!a.id && !a.name) return el('span', { class: 'muted', text: 'anonymous' });
  const sub = a.name && a.id ? `${a.type ? a.type + ' ' : ''}${a.id}` : a.type;
  return el('div', { class: 'stack' },
    el('span', { class: 'strong', text: a.name || a.id }),
    sub ? el('span', { class: 'sub', text: sub }) : null);
}

function actionCell(ev) {
  return el('div', { class: 'stack' },
    el('span', { class: `badge ${ev.outcome === 'failure' ? 'bad' : ''}`, text: ev.action }),
    ev.description ? el('span', { class: 'desc', text: ev.description }) : null);
}

function targetCell(ev) {
  const t = ev.target || {};
  if (!t.type && !t.id && !t.name) return el('span', { class: 'muted', text: '—' });
  return el('div', { class: 'stack' },
    el('span', { text: t.name || t.id || t.type }),
    el('span', { class: 'sub', text: [t.type, t.name && t.id ? t.id : ''].filter(Boolean).join(' · ') }));
}

function requestCell(ev) {
  const h = ev.http || {};
  return el('span', { class: 'mono', text: `${h.method || ''} ${h.path || ''} ${h.status || ''}`.trim() });
}

// --- talking to the API ------------------------------------------------

class Unauthorized extends Error {}

async function api(path, params, init = {}) {
  const url = params && String(params) ? `${path}?${params}` : path;
  const res = await fetch(url, {
    ...init,
    cache: 'no-store',
    headers: { Authorization: `Bearer ${state.token}` },
  });
  if (res.status === 401) {
    signOut('That token was not accepted.');
    throw new Unauthorized('unauthorized');
  }
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try { msg = (await res.json()).error || msg; } catch { /* not JSON */ }
    throw new Error(msg);
  }
  return res;
}

// filterParams are the current filters as query parameters.
function filterParams({ withoutFacets = false } = {}) {
  const p = new URLSearchParams();
  if (state.preset === 'custom') {
    if (state.from) p.set('from', state.from);
    if (state.to) p.set('to', state.to);
  } else if (state.preset) {
    p.set('preset', state.preset);
  }
  if (p.has('preset') || p.has('from') || p.has('to')) p.set('tz', TZ);
  if (withoutFacets) return p;
  if (state.q) p.set('q', state.q);
  for (const [field, values] of Object.entries(state.filters)) {
    for (const v of values) p.append(field, v);
  }
  return p;
}

// --- the table -----------------------------------------------------------

const visibleColumns = () => COLUMNS.filter((c) => state.columns.has(c.id));

function renderHead() {
  const tr = $('#events thead tr');
  tr.replaceChildren(...visibleColumns().map((c) => el('th', { scope: 'col', class: `col-${c.id}`, text: c.label })));
}

function row(ev) {
  const tr = el('tr', { 'data-id': ev.id, tabindex: '0', class: ev.outcome === 'failure' ? 'failed' : null });
  for (const c of visibleColumns()) tr.append(el('td', { class: `col-${c.id}`, 'data-label': c.label }, c.cell(ev)));
  return tr;
}

function renderRows() {
  $('#rows').replaceChildren(...state.events.map(row));
  updateEmpty();
}

function addEvents(events, { top = false } = {}) {
  const fresh = events.filter((ev) => !state.byId.has(ev.id));
  for (const ev of fresh) state.byId.set(ev.id, ev);
  const rows = fresh.map(row);
  if (top) {
    state.events.unshift(...fresh);
    $('#rows').prepend(...rows);
    for (const r of rows) {
      r.classList.add('fresh');
      r.addEventListener('animationend', () => r.classList.remove('fresh'), { once: true });
    }
  } else {
    state.events.push(...fresh);
    $('#rows').append(...rows);
  }
  updateEmpty();
  return fresh.length;
}

function updateEmpty() {
  $('#empty').hidden = state.events.length > 0 || !$('#loading').hidden;
}

function updateCount() {
  $('#count').textContent = state.total == null ? '–' : state.total.toLocaleString();
  $('#count-label').textContent = state.total === 1 ? 'event' : 'events';
}

// reload reads the first page of the current filters, then their count
// (and the facet menus, with facets) and the live stream. The list goes
// first: the API records it as the view, and the calls that follow for the
// same filter are part of that view, not reads of their own.
async function reload({ facets = false } = {}) {
  const gen = ++state.generation;
  state.events = [];
  state.byId.clear();
  state.next = '';
  state.pending = [];
  updatePending();
  $('#rows').replaceChildren();
  $('#more').hidden = true;
  $('#loading').hidden = false;
  updateEmpty();
  const page = filterParams();
  page.set('limit', PAGE_SIZE);
  try {
    const list = await (await api('/api/v1/events', page)).json();
    if (gen !== state.generation) return;
    state.next = list.next;
    addEvents(list.events);
    const [count] = await Promise.all([
      api('/api/v1/events/count', filterParams()).then((r) => r.json()),
      facets ? loadFacets() : null,
    ]);
    if (gen !== state.generation) return;
    state.total = count.count;
  } catch (e) {
    if (gen === state.generation && !(e instanceof Unauthorized)) toast(e.message, true);
  } finally {
    if (gen === state.generation) {
      $('#loading').hidden = true;
      $('#more').hidden = !state.next;
      updateCount();
      updateEmpty();
    }
  }
  if (gen === state.generation && state.token) {
    state.lastEventId = '';
    startStream();
  }
}

async function loadMore() {
  if (!state.next) return;
  const gen = state.generation;
  const p = filterParams();
  p.set('limit', PAGE_SIZE);
  p.set('cursor', state.next);
  const btn = $('#more');
  btn.disabled = true;
  try {
    const list = await (await api('/api/v1/events', p)).json();
    if (gen !== state.generation) return;
    state.next = list.next;
    addEvents(list.events);
  } catch (e) {
    if (!(e instanceof Unauthorized)) toast(e.message, true);
  } finally {
    btn.disabled = false;
    btn.hidden = !state.next;
  }
}

// --- live updates ----------------------------------------------------------
// EventSource cannot send an Authorization header, so the stream is read
// with fetch and parsed here (text/event-stream: blocks of "field: value"
// lines separated by a blank line).

async function startStream() {
  state.stream?.abort();
  const ctrl = new AbortController();
  state.stream = ctrl;
  setLive('connecting');
  try {
    const headers = { Authorization: `Bearer ${state.token}` };
    // Back after a break: the API first sends what was missed since.
    if (state.lastEventId) headers['Last-Event-ID'] = state.lastEventId;
    const res = await fetch(`/api/v1/events/stream?${filterParams()}`, {
      headers, cache: 'no-store', signal: ctrl.signal,
    });
    if (res.status === 401) { signOut('That token was not accepted.'); return; }
    if (res.status === 501) { setLive('off'); return; }
    if (!res.ok || !res.body) throw new Error(`stream: ${res.status}`);
    setLive(state.paused ? 'paused' : 'on');
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value.replace(/\r\n?/g, '\n');
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        handleBlock(buf.slice(0, end));
        buf = buf.slice(end + 2);
      }
    }
  } catch {
    // An abort is ours; anything else is a broken connection, retried below.
  }
  if (ctrl.signal.aborted || state.stream !== ctrl) return;
  setLive('reconnecting');
  setTimeout(() => { if (state.stream === ctrl) startStream(); }, RECONNECT_MS);
}

function handleBlock(block) {
  let type = 'message';
  let id = null;
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue; // a comment: the heartbeat
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (id !== null) state.lastEventId = id;
  if (type === 'reset') {
    // The API could not send exactly what was missed: read the list again.
    reload();
    return;
  }
  if (type !== 'audit' || data.length === 0) return;
  let ev;
  try { ev = JSON.parse(data.join('\n')); } catch { return; }
  if (state.byId.has(ev.id) || state.pending.some((p) => p.id === ev.id)) return;
  if (state.paused) {
    state.pending.push(ev);
    updatePending();
    return;
  }
  showLive([ev]);
}

function showLive(events) {
  // Newest on top: add the oldest first.
  let added = 0;
  for (const ev of events) added += addEvents([ev], { top: true });
  if (state.total != null) state.total += added;
  updateCount();
}

function setLive(mode) {
  const live = $('#live-state');
  live.dataset.mode = mode;
  $('#live-label').textContent = {
    on: 'Live', paused: 'Paused', connecting: 'Connecting…', reconnecting: 'Reconnecting…', off: 'Live off',
  }[mode];
}

function setPaused(paused) {
  state.paused = paused;
  const btn = $('#pause');
  btn.textContent = paused ? 'Resume' : 'Pause';
  btn.setAttribute('aria-pressed', String(paused));
  if ($('#live-state').dataset.mode === 'on' || $('#live-state').dataset.mode === 'paused') setLive(paused ? 'paused' : 'on');
  if (!paused && state.pending.length) {
    showLive(state.pending);
    state.pending = [];
  }
  updatePending();
}

function updatePending() {
  const btn = $('#pending');
  const n = state.pending.length;
  btn.hidden = n === 0;
  btn.textContent = `${n} new — show`;
}

// --- filter menus --------------------------------------------------------

function closeMenus(except) {
  for (const panel of $$('.menu-panel')) {
    if (panel === except) continue;
    panel.hidden = true;
    panel.previousElementSibling?.setAttribute('aria-expanded', 'false');
  }
}

function toggleMenu(button, panel) {
  const open = panel.hidden;
  closeMenus(panel);
  panel.hidden = !open;
  button.setAttribute('aria-expanded', String(open));
  if (open) panel.querySelector('input')?.focus();
}

// A facet menu: checkboxes (several values, OR) for a menu marked
// data-multiple (all four are), radio buttons for one value otherwise.
function setupFacet(box) {
  const field = box.dataset.field;
  const button = el('button', { type: 'button', class: 'menu-button', 'aria-haspopup': 'true', 'aria-expanded': 'false' });
  const panel = el('div', { class: 'menu-panel', hidden: true });
  box.classList.add('menu');
  box.replaceChildren(button, panel);
  button.addEventListener('click', () => toggleMenu(button, panel));
  renderFacet(field, []);
}

function renderFacet(field, values) {
  const box = $(`.multi[data-field="${field}"]`);
  const multiple = box.hasAttribute('data-multiple');
  const [button, panel] = box.children;
  const selected = state.filters[field];
  // Selected values stay in the list even when the facets no longer have them.
  const list = [...values];
  for (const v of selected) if (!list.some((f) => f.value === v)) list.unshift({ value: v, count: 0 });

  const label = box.dataset.label;
  button.replaceChildren(el('span', { text: label }));
  if (selected.length) {
    button.append(el('span', { class: 'chip', text: multiple ? String(selected.length) : selected[0] }));
    button.classList.add('active');
  } else {
    button.classList.remove('active');
  }

  const search = el('input', { type: 'search', placeholder: `Find ${label.toLowerCase()}…`, 'aria-label': `Find ${label.toLowerCase()}` });
  const ul = el('ul', { role: 'listbox', 'aria-multiselectable': multiple ? 'true' : null });
  const name = `facet-${field}`;
  const option = (value, count, checked, label) => el('li', {},
    el('label', {},
      el('input', {
        type: multiple ? 'checkbox' : 'radio', name, value, checked,
        onchange: (e) => pick(field, value, e.target.checked, multiple),
      }),
      el('span', { class: 'value', text: value || 'Any' }),
      label && label !== value ? el('span', { class: 'label muted', text: label }) : null,
      count ? el('span', { class: 'n', text: count.toLocaleString() }) : null));
  if (!multiple) ul.append(option('', 0, selected.length === 0));
  for (const f of list) ul.append(option(f.value, f.count, selected.includes(f.value), f.label));
  if (list.length === 0) ul.append(el('li', { class: 'muted none', text: 'No values in this period' }));
  search.addEventListener('input', () => {
    const needle = search.value.toLowerCase();
    for (const li of ul.children) {
      const v = `${li.querySelector('.value')?.textContent ?? ''} ${li.querySelector('.label')?.textContent ?? ''}`.toLowerCase();
      li.hidden = needle !== '' && !v.includes(needle);
    }
  });
  panel.replaceChildren(list.length > 8 ? search : '', ul);
}

function pick(field, value, checked, multiple) {
  if (multiple) {
    const set = new Set(state.filters[field]);
    if (checked) set.add(value); else set.delete(value);
    state.filters[field] = [...set];
  } else {
    state.filters[field] = value ? [value] : [];
    closeMenus();
  }
  renderFacet(field, facetCache[field] || []);
  reload();
}

const facetCache = {};

// loadFacets fills the menus with the values found in the time range, not
// narrowed by the other menus: picking a second action must still be
// possible after picking the first.
async function loadFacets() {
  const fields = $$('.multi').map((b) => b.dataset.field);
  await Promise.all(fields.map(async (field) => {
    const p = filterParams({ withoutFacets: true });
    p.set('field', field);
    p.set('limit', FACET_LIMIT);
    try {
      const res = await (await api('/api/v1/facets', p)).json();
      facetCache[field] = res.values;
      renderFacet(field, res.values);
    } catch { /* the menu stays as it was */ }
  }));
}

// --- column chooser ------------------------------------------------------

function setupColumns() {
  const box = $('#columns');
  const button = $('.menu-button', box);
  const panel = $('.menu-panel', box);
  button.addEventListener('click', () => toggleMenu(button, panel));
  panel.replaceChildren(el('ul', {}, ...COLUMNS.map((c) => el('li', {},
    el('label', {},
      el('input', {
        type: 'checkbox', value: c.id, checked: state.columns.has(c.id),
        onchange: (e) => {
          if (e.target.checked) state.columns.add(c.id); else state.columns.delete(c.id);
          if (state.columns.size === 0) { state.columns.add(c.id); e.target.checked = true; return; }
          localStorage.setItem(COLUMNS_KEY, JSON.stringify([...state.columns]));
          renderHead();
          renderRows();
        },
      }),
      el('span', { class: 'value', text: c.label }))))));
}

// --- detail view ---------------------------------------------------------

// A change value is JSON: strings show as they are, anything else as JSON.
function changeValue(v, cls) {
  if (v === undefined) return el('span', { class: `${cls} unknown`, text: '(unknown)' });
  return el('span', { class: cls, text: typeof v === 'string' ? v : JSON.stringify(v) });
}

// flatten turns nested objects into dotted keys: source.ip, http.status.
function flatten(obj, prefix = '', out = []) {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatten(v, key, out);
    else out.push([key, Array.isArray(v) ? v.join(', ') : String(v)]);
  }
  return out;
}

function openDetail(id) {
  const ev = state.byId.get(id);
  if (!ev) return;
  $('#detail-action').textContent = ev.action;
  $('#detail-title').textContent = ev.description || ev.action;
  const body = $('#detail-body');
  const a = ev.actor || {};
  const t = ev.target || {};
  const facts = [
    ['When', el('span', {}, localTime(ev.time), el('span', { class: 'sub block', text: utcTime(ev.time) }))],
    ['Actor', [a.name, a.id && a.name ? `(${a.id})` : a.id].filter(Boolean).join(' ') || 'anonymous'],
    ['Target', [t.type, t.name || t.id].filter(Boolean).join(': ') || '—'],
    ['Outcome', el('span', { class: `outcome ${ev.outcome}`, text: ev.outcome })],
    ['From', [ev.source?.ip, ev.source?.country].filter(Boolean).join(' · ') || '—'],
    ['Request', `${ev.http?.method || ''} ${ev.http?.path || ''} → ${ev.http?.status || ''}`],
  ];
  const sections = [el('dl', { class: 'facts' }, ...facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', {}, v)]))];

  const changes = Object.entries(ev.changes || {});
  if (changes.length) {
    sections.push(el('h3', { text: 'Changes' }), el('ul', { class: 'changes' }, ...changes.map(([field, c]) =>
      el('li', {}, el('code', { class: 'field', text: field }), ': ', changeValue(c.from, 'from'), ' → ', changeValue(c.to, 'to')))));
  }
  if (ev.warnings?.length) {
    sections.push(el('h3', { text: 'Warnings' }), el('ul', { class: 'warnings' }, ...ev.warnings.map((w) => el('li', { text: w }))));
  }
  const { changes: _, ...rest } = ev;
  sections.push(el('h3', { text: 'All fields' }), el('table', { class: 'fields' }, el('tbody', {},
    ...flatten(rest).map(([k, v]) => el('tr', {}, el('th', { scope: 'row', text: k }), el('td', { text: v }))))));
  sections.push(el('details', { class: 'raw' }, el('summary', { text: 'JSON' }), el('pre', { text: JSON.stringify(ev, null, 2) })));
  body.replaceChildren(...sections);
  body.scrollTop = 0;
  $('#detail').hidden = false;
  $('#scrim').hidden = false;
  $('#detail-close').focus();
}

function closeDetail() {
  $('#detail').hidden = true;
  $('#scrim').hidden = true;
}

// --- export --------------------------------------------------------------
// A link cannot carry the Authorization header, so the file is fetched and
// handed to the browser as a download.

async function exportAs(format, button) {
  const p = filterParams();
  p.set('format', format);
  button.disabled = true;
  toast(`Preparing ${format.toUpperCase()} export…`);
  try {
    const res = await api('/api/v1/export', p);
    const blob = await res.blob();
    const name = /filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '')?.[1] || `auditlog.${format}`;
    const url = URL.createObjectURL(blob);
    const a = el('a', { href: url, download: name, hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    toast(`Downloaded ${name}`);
  } catch (e) {
    if (!(e instanceof Unauthorized)) toast(`Export failed: ${e.message}`, true);
  } finally {
    button.disabled = false;
  }
}

// --- session -------------------------------------------------------------

let toastTimer;
function toast(message, isError = false) {
  const t = $('#toast');
  t.textContent = message;
  t.classList.toggle('error', isError);
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
}

function start() {
  $('#welcome').hidden = true;
  $('#viewer').hidden = false;
  $('#signin').hidden = true;
  $('#session').hidden = false;
  reload({ facets: true });
}

function signOut(message) {
  state.token = '';
  sessionStorage.removeItem(TOKEN_KEY);
  state.stream?.abort();
  state.stream = null;
  state.generation++;
  closeDetail();
  $('#viewer').hidden = true;
  $('#welcome').hidden = false;
  $('#signin').hidden = false;
  $('#session').hidden = true;
  const err = $('#signin-error');
  err.textContent = message || '';
  err.hidden = !message;
  $('#token').value = '';
  $('#token').focus();
}

function setPreset(preset) {
  state.preset = preset;
  for (const b of $$('.presets button')) b.classList.toggle('selected', b.dataset.preset === preset);
  $('#range').hidden = preset !== 'custom';
  if (preset === 'custom' && !state.from && !state.to) return; // wait for a date
  reload({ facets: true });
}

function init() {
  renderHead();
  setupColumns();
  for (const box of $$('.multi')) setupFacet(box);
  for (const b of $$('.presets button')) {
    b.classList.toggle('selected', b.dataset.preset === state.preset);
    b.addEventListener('click', () => setPreset(b.dataset.preset));
  }
  for (const input of [$('#from'), $('#to')]) {
    input.addEventListener('change', () => {
      state.from = $('#from').value;
      state.to = $('#to').value;
      reload({ facets: true });
    });
  }
  let searchTimer;
  $('#q').addEventListener('input', (e) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.q = e.target.value.trim(); reload(); }, 300);
  });
  $('#clear').addEventListener('click', () => {
    state.filters = { action: [], area: [], actor: [], country: [] };
    state.q = '';
    $('#q').value = '';
    for (const f of Object.keys(state.filters)) renderFacet(f, facetCache[f] || []);
    reload();
  });
  $('#signin').addEventListener('submit', (e) => {
    e.preventDefault();
    state.token = $('#token').value.trim();
    if (!state.token) return;
    sessionStorage.setItem(TOKEN_KEY, state.token);
    $('#signin-error').hidden = true;
    start();
  });
  $('#signout').addEventListener('click', () => signOut());
  $('#pause').addEventListener('click', () => setPaused(!state.paused));
  $('#pending').addEventListener('click', () => setPaused(false));
  $('#more').addEventListener('click', loadMore);
  for (const b of $$('.export button')) b.addEventListener('click', () => exportAs(b.dataset.format, b));

  const rows = $('#rows');
  rows.addEventListener('click', (e) => {
    const tr = e.target.closest('tr[data-id]');
    if (tr) openDetail(tr.dataset.id);
  });
  rows.addEventListener('keydown', (e) => {
    const tr = e.target.closest('tr[data-id]');
    if (tr && (e.key === 'Enter' || e.key === ' ')) { e.preventDefault(); openDetail(tr.dataset.id); }
  });
  $('#detail-close').addEventListener('click', closeDetail);
  $('#scrim').addEventListener('click', closeDetail);
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { closeMenus(); closeDetail(); }
  });
  document.addEventListener('click', (e) => {
    if (!e.target.closest('.menu')) closeMenus();
  });

  if (state.token) start();
  else $('#token').focus();
}

init();
