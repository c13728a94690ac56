// embp playground (GET /): embeds a few texts with each selected model through the server's own
// API (same origin, the API key from the field) and draws each model's cosine-similarity
// matrix as a heatmap, with its plan's precision, fidelity, tokens and latency. Plain JS.
'use strict';

const $ = (id) => document.getElementById(id);
const MAX_TEXTS = 32;
let served = []; // /v1/models' embedding models: {id, embp}
let paths = {};  // model id -> its folder (from /info), to pair a plan with fp32 of its folder

function headers(json) {
  const h = {};
  if (json) h['Content-Type'] = 'application/json';
  const key = $('apikey').value.trim();
  if (key) h.Authorization = 'Bearer ' + key;
  return h;
}

function setStatus(text, isError) {
  $('status').textContent = text;
  $('status').className = isError ? 'error' : '';
}

// GET or POST url; the parsed JSON, or an Error carrying the API's error message.
async function api(url, body) {
  const res = await fetch(url, body === undefined ? { headers: headers(false) }
    : { method: 'POST', headers: headers(true), body: JSON.stringify(body) });
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    const msg = data && data.error ? (data.error.message || data.error) : res.statusText;
    throw new Error(`${url}: ${res.status} ${msg}`);
  }
  return data;
}

function plan(m) {
  const p = (m.embp && m.embp.precision) || {};
  return { storage: p.storage || '?', compute: p.compute || '?', mean: p.fidelity_mean,
           min: p.fidelity_min, group: p.group_size, reason: p.reason || '' };
}

function isFp32(m) {
  const p = plan(m);
  return p.storage === 'fp32' && p.compute === 'fp32';
}

async function loadModels() {
  const box = $('models');
  box.querySelectorAll('label, p').forEach((e) => e.remove());
  try {
    const list = await api('/v1/models');
    served = list.data.filter((m) => !m.embp || (m.embp.kind || 'embedding') === 'embedding')
      .filter((m) => !(m.embp && m.embp.alias_of));
    try {
      const info = await api('/info');
      paths = {};
      for (const m of (info.embp || info).models || []) paths[m.id] = m.path;
    } catch (_) { paths = {}; }
    served.forEach((m, k) => {
      const p = plan(m);
      const label = document.createElement('label');
      const box1 = document.createElement('input');
      box1.type = 'checkbox';
      box1.value = m.id;
      box1.checked = k < 4;
      label.append(box1, ` ${m.id} — storage ${p.storage}, compute ${p.compute}`);
      box.append(label);
    });
    if (!served.length) box.append(Object.assign(document.createElement('p'),
      { className: 'hint', textContent: 'No embedding model is served.' }));
    setStatus(`${served.length} embedding model(s) served.`);
  } catch (e) {
    box.append(Object.assign(document.createElement('p'), { className: 'hint',
      textContent: 'Could not list the models: enter the API key if the server needs one.' }));
    setStatus(e.message, true);
  }
}

function normalize(v) {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s) || 1;
  return v.map((x) => x / n);
}

function dot(a, b) {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

// White at floor, deep blue at 1: one scale for every panel (floor: the lowest cosine shown,
// at most 0), so that equal colours are equal cosines side by side; red below 0.
function colour(c, floor) {
  const t = c >= 0 ? Math.min(1, (c - Math.max(floor, 0)) / (1 - Math.max(floor, 0) || 1))
    : Math.min(1, -c);
  const lo = Math.round(255 - 215 * t), hi = Math.round(255 - 140 * t);
  return c >= 0 ? `rgb(${lo},${hi},255)` : `rgb(255,${hi},${lo})`;
}

function fmt(x, digits) {
  return typeof x === 'number' ? x.toFixed(digits) : 'not measured';
}

function heatmap(vectors, texts, floor) {
  const table = document.createElement('table');
  table.className = 'heatmap';
  const head = table.insertRow();
  head.append(document.createElement('th'));
  texts.forEach((t, j) => head.append(Object.assign(document.createElement('th'),
    { textContent: j + 1, title: t })));
  vectors.forEach((a, i) => {
    const row = table.insertRow();
    row.append(Object.assign(document.createElement('th'), { textContent: i + 1, title: texts[i] }));
    vectors.forEach((b, j) => {
      const c = dot(a, b);
      const td = row.insertCell();
      td.dataset.i = i;
      td.dataset.j = j;
      td.dataset.cos = String(c);
      td.textContent = c.toFixed(2);
      td.title = `${texts[i]}\n${texts[j]}\ncosine ${c.toFixed(6)}`;
      td.style.background = colour(c, floor);
      if (c > floor + 0.6 * (1 - floor)) td.style.color = '#fff';
    });
  });
  return table;
}

function panel(result, texts, floor) {
  const { model, vectors, tokens, ms, here } = result;
  const p = plan(model);
  const div = document.createElement('div');
  div.className = 'panel';
  div.dataset.model = model.id;
  div.append(Object.assign(document.createElement('h2'), { textContent: model.id }));
  const dl = document.createElement('dl');
  const rows = [
    ['storage / compute', `${p.storage} / ${p.compute}` + (p.group ? ` (int4 group ${p.group})` : '')],
    ['fidelity to fp32', typeof p.mean === 'number' ? `mean ${fmt(p.mean, 5)}, min ${fmt(p.min, 5)} (probe set)`
      : isFp32(model) ? 'is fp32' : 'not measured (--measure-fidelity)'],
    ['vs fp32 here', here ? `mean ${here.mean.toFixed(5)}, min ${here.min.toFixed(5)} (${here.ref})` : '—'],
    ['tokens', String(tokens)],
    ['latency', `${ms.toFixed(1)} ms`],
  ];
  for (const [k, v] of rows) {
    dl.append(Object.assign(document.createElement('dt'), { textContent: k }));
    const dd = Object.assign(document.createElement('dd'), { textContent: v });
    dd.dataset.field = k.split(' ')[0];
    dl.append(dd);
  }
  div.append(dl, heatmap(vectors, texts, floor));
  return div;
}

// Each text's cosine between result's vectors and those of a selected fp32 plan of its folder.
function versusFp32(result, results) {
  const path = paths[result.model.id];
  const ref = results.find((r) => r !== result && isFp32(r.model) && path &&
    paths[r.model.id] === path);
  if (!ref || isFp32(result.model)) return null;
  const cos = result.vectors.map((v, i) => dot(v, ref.vectors[i]));
  return { ref: ref.model.id, mean: cos.reduce((s, c) => s + c, 0) / cos.length,
           min: Math.min(...cos) };
}

async function compare() {
  const texts = $('texts').value.split('\n').map((t) => t.trim()).filter((t) => t.length);
  const ids = [...$('models').querySelectorAll('input:checked')].map((b) => b.value);
  if (!texts.length || texts.length > MAX_TEXTS)
    return setStatus(`Give 1 to ${MAX_TEXTS} texts, one per line.`, true);
  if (!ids.length) return setStatus('Pick at least one model.', true);
  $('panels').replaceChildren();
  setStatus('Embedding…');
  const results = [];
  try {
    for (const id of ids) { // one at a time, so that each latency is its own
      const t0 = performance.now();
      const res = await api('/v1/embeddings', { model: id, input: texts, encoding_format: 'float' });
      const ms = performance.now() - t0;
      const vectors = res.data.sort((a, b) => a.index - b.index).map((d) => normalize(d.embedding));
      results.push({ model: served.find((m) => m.id === id), vectors,
                     tokens: res.usage.prompt_tokens, ms });
    }
  } catch (e) {
    return setStatus(e.message, true);
  }
  for (const r of results) r.here = versusFp32(r, results);
  let floor = 1;
  for (const r of results)
    for (const a of r.vectors) for (const b of r.vectors) floor = Math.min(floor, dot(a, b));
  floor = Math.min(floor, 0.999);
  $('panels').replaceChildren(...results.map((r) => panel(r, texts, floor)));
  setStatus(`${texts.length} texts, ${results.length} model(s); colours from white at ` +
    `${Math.max(floor, 0).toFixed(2)} to blue at 1.00, the same in every panel.`);
  document.body.dataset.done = String(Date.now());
}

$('load-models').addEventListener('click', loadModels);
$('compare').addEventListener('click', compare);
loadModels();
