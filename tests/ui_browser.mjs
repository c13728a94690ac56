// The web pages in headless Chromium (Debian's /usr/bin/chromium, driven by npm's
// playwright-core), against `embp serve` serving one fixture folder under two names in two plans
// (fp32 and int4) with an API key:
//   /docs lists every operation of /openapi.json, and its "try it" POST /v1/embeddings answers
//   200 with the vector the API gives;
//   the playground's heatmap values (the cells' data-cos) equal the cosines of the ONNX Runtime
//   peer's vectors (fp32 plan) and of /v1/embeddings' vectors (both plans) within 1e-4, and each
//   panel shows its plan, the server's measured fidelity and the request's tokens;
//   the browser requested nothing off the server's origin, and no page broke its
//   Content-Security-Policy.
// Screenshots go to ARTIFACTS. usage: node ui_browser.mjs EMBP_BIN FIXTURE_DIR PEER_JSONL
// NODE_MODULES ARTIFACTS. Exits 1 naming each failure.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const [bin, fixture, peerPath, modules, artifacts] = process.argv.slice(2);
const require = createRequire(path.join(modules, 'x.js'));
const { chromium } = require('playwright-core');
const KEY = 'ui-test-key';
const TOL = 1e-4;
let failures = 0;
const fail = (msg) => { console.error('FAIL: ' + msg); failures++; };

// ---------------------------------------------------------------- the server

function startServer() {
  const env = { ...process.env, EMB_PROVIDER_FIDELITY_CACHE: 'off' };
  const args = ['serve', '--model', `${fixture},${fixture}`, '--model-name', 'mini-fp32,mini-int4',
    '--precision-overrides', '{"mini-int4":"int4"}', '--measure-fidelity', '--api-key', KEY,
    '--host', '127.0.0.1', '--port', '0', '--log-level', 'info'];
  const proc = spawn(bin, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('embp serve did not listen in 60 s:\n' + log)), 60000);
    proc.stderr.on('data', (d) => {
      log += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve({ proc, port: Number(m[1]), log: () => log }); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`embp serve exited ${code}:\n${log}`)); });
  });
}

async function api(origin, url, body) {
  const res = await fetch(origin + url, body === undefined
    ? { headers: { Authorization: 'Bearer ' + KEY } }
    : { method: 'POST', headers: { Authorization: 'Bearer ' + KEY, 'Content-Type': 'application/json' },
        body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

function cosine(a, b) {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return d / Math.sqrt(na * nb);
}

// ---------------------------------------------------------------- /docs

async function checkDocs(page, origin) {
  const res = await fetch(origin + '/openapi.json'); // no key: as /health
  if (!res.ok) return fail(`GET /openapi.json without a key: ${res.status}`);
  const doc = await res.json();
  const want = [];
  for (const [p, ops] of Object.entries(doc.paths || {}))
    for (const m of Object.keys(ops))
      if (['get', 'post', 'put', 'delete', 'patch', 'head', 'options'].includes(m)) want.push(`${m} ${p}`);
  if (want.length === 0) fail('/openapi.json lists no operation');
  await page.goto(origin + '/docs');
  await page.waitForSelector('.opblock', { timeout: 30000 });
  const shown = await page.$$eval('.opblock', (els) => els.map((e) => {
    const method = e.querySelector('.opblock-summary-method')?.textContent.trim().toLowerCase();
    const p = e.querySelector('.opblock-summary-path')?.getAttribute('data-path');
    return `${method} ${p}`;
  }));
  for (const w of want) if (!shown.includes(w)) fail(`/docs does not list ${w} (it shows ${shown.length} operations)`);
  console.log(`/docs lists ${shown.length} operations; /openapi.json has ${want.length}`);
  await page.screenshot({ path: path.join(artifacts, 'ui-docs.png'), fullPage: true });

  // Authorize with the key, then "try it" POST /v1/embeddings.
  await page.click('.btn.authorize');
  const input = page.locator('.modal-ux input[type=text], .modal-ux input[type=password]').first();
  await input.fill(KEY);
  await page.click('.modal-ux .auth-btn-wrapper .btn.modal-btn.auth.authorize');
  await page.click('.modal-ux .btn-done, .modal-ux .close-modal');
  const op = page.locator('.opblock-post').filter({ has: page.locator('.opblock-summary-path[data-path="/v1/embeddings"]') }).first();
  await op.locator('.opblock-summary').first().click();
  const tryOut = op.locator('.try-out__btn');
  if (await tryOut.count() && (await tryOut.first().textContent()).includes('Try')) await tryOut.first().click();
  const request = { model: 'mini-fp32', input: ['hello from the docs page'], encoding_format: 'float' };
  await op.locator('textarea.body-param__text').fill(JSON.stringify(request));
  await op.locator('.btn.execute').click();
  const status = op.locator('.live-responses-table tbody tr.response .response-col_status').first();
  await status.waitFor({ timeout: 30000 });
  const code = (await status.textContent()).trim();
  const body = await op.locator('.live-responses-table tbody tr.response .response-col_description pre').first().textContent();
  await page.screenshot({ path: path.join(artifacts, 'ui-docs-try-it.png'), fullPage: false });
  if (code !== '200') return fail(`/docs try-it POST /v1/embeddings answered ${code}: ${body.slice(0, 300)}`);
  const got = JSON.parse(body).data[0].embedding;
  const direct = (await api(origin, '/v1/embeddings', request)).data[0].embedding;
  const c = cosine(got, direct);
  if (!(c > 1 - 1e-6) || got.length !== direct.length)
    fail(`/docs try-it vector differs from the API's: cosine ${c}, ${got.length} vs ${direct.length} values`);
  console.log(`/docs try-it: 200, ${got.length} values, cosine to the API's ${c.toFixed(9)}`);
}

// ---------------------------------------------------------------- the playground

async function checkPlayground(page, origin) {
  const peer = fs.readFileSync(peerPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    .filter((p) => p.text.length > 0 && p.text === p.text.trim() && !/[\n\r\u2028\u2029]/.test(p.text))
    .slice(0, 6);
  const texts = peer.map((p) => p.text);
  await page.goto(origin + '/');
  // Without the key the API refuses: the page says so; with it, both plans are listed.
  await page.waitForSelector('#status.error', { timeout: 15000 });
  await page.fill('#apikey', KEY);
  await page.click('#load-models');
  await page.waitForFunction(() => document.querySelectorAll('#models input[type=checkbox]').length === 2);
  await page.fill('#texts', texts.join('\n'));
  for (const box of await page.$$('#models input[type=checkbox]')) await box.check();
  await page.click('#compare');
  await page.waitForSelector('body[data-done]', { timeout: 60000 });
  await page.screenshot({ path: path.join(artifacts, 'ui-playground.png'), fullPage: true });
  const panels = await page.$$eval('.panel', (els) => els.map((e) => ({
    model: e.dataset.model,
    fields: Object.fromEntries([...e.querySelectorAll('dd')].map((d) => [d.dataset.field, d.textContent])),
    cells: [...e.querySelectorAll('td[data-cos]')].map((td) => [Number(td.dataset.i), Number(td.dataset.j), Number(td.dataset.cos)]),
  })));
  const models = (await api(origin, '/v1/models')).data;
  for (const id of ['mini-fp32', 'mini-int4']) {
    const p = panels.find((x) => x.model === id);
    if (!p) { fail(`no playground panel for ${id}`); continue; }
    const res = await api(origin, '/v1/embeddings', { model: id, input: texts, encoding_format: 'float' });
    const vec = res.data.map((d) => d.embedding);
    if (p.cells.length !== texts.length * texts.length)
      fail(`${id}: ${p.cells.length} heatmap cells for ${texts.length} texts`);
    let worstApi = 0, worstPeer = 0;
    for (const [i, j, c] of p.cells) {
      worstApi = Math.max(worstApi, Math.abs(c - cosine(vec[i], vec[j])));
      if (id === 'mini-fp32') worstPeer = Math.max(worstPeer, Math.abs(c - cosine(peer[i].embedding, peer[j].embedding)));
    }
    if (!(worstApi <= TOL)) fail(`${id}: heatmap vs /v1/embeddings cosines: max |diff| ${worstApi}`);
    if (!(worstPeer <= TOL)) fail(`${id}: heatmap vs the ONNX Runtime peer's cosines: max |diff| ${worstPeer}`);
    if (p.fields.tokens !== String(res.usage.prompt_tokens))
      fail(`${id}: panel tokens ${p.fields.tokens}, the API's usage ${res.usage.prompt_tokens}`);
    const pr = models.find((m) => m.id === id).embp.precision;
    if (!p.fields.storage.startsWith(`${pr.storage} / ${pr.compute}`))
      fail(`${id}: panel plan "${p.fields.storage}", the server's ${pr.storage} / ${pr.compute}`);
    if (id === 'mini-int4') {
      if (pr.storage !== 'int4') fail(`mini-int4 is served as ${pr.storage}, not int4`);
      if (typeof pr.fidelity_mean !== 'number') fail('mini-int4: the server measured no fidelity (--measure-fidelity)');
      else if (!p.fields.fidelity.includes(pr.fidelity_mean.toFixed(5)))
        fail(`mini-int4: panel fidelity "${p.fields.fidelity}", the server's mean ${pr.fidelity_mean}`);
      if (!/^mean 0\.\d{5}, min/.test(p.fields.vs)) fail(`mini-int4: no "vs fp32 here" figure: "${p.fields.vs}"`);
    }
    console.log(`playground ${id}: ${p.cells.length} cells, max |diff| to the API ${worstApi.toExponential(2)}` +
      (id === 'mini-fp32' ? `, to the peer ${worstPeer.toExponential(2)}` : '') + `; ${JSON.stringify(p.fields)}`);
  }
}

// ---------------------------------------------------------------- main

const server = await startServer();
const origin = `http://127.0.0.1:${server.port}`;
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'embp-chromium-'));
fs.mkdirSync(artifacts, { recursive: true });
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium', headless: true,
  args: ['--headless', '--no-sandbox', '--disable-background-networking'],
  viewport: { width: 1280, height: 900 },
});
const offOrigin = [], cspErrors = [];
context.on('request', (r) => {
  const u = r.url();
  if (!u.startsWith(origin + '/') && !u.startsWith('data:') && !u.startsWith('blob:')) offOrigin.push(u);
});
const page = context.pages()[0] || await context.newPage();
page.on('console', (m) => { if (/Content.Security.Policy/i.test(m.text())) cspErrors.push(m.text()); });
page.on('pageerror', (e) => fail(`a page threw: ${e.message}`));
try {
  await checkPlayground(page, origin);
  await checkDocs(page, origin);
} catch (e) {
  fail(e.stack || String(e));
  await page.screenshot({ path: path.join(artifacts, 'ui-failure.png'), fullPage: true }).catch(() => {});
} finally {
  await context.close();
  server.proc.kill('SIGTERM');
  fs.rmSync(profile, { recursive: true, force: true });
}
if (offOrigin.length) fail(`the browser requested off the server's origin: ${offOrigin.join(', ')}`);
if (cspErrors.length) fail(`Content-Security-Policy violations: ${cspErrors.join(' | ')}`);
if (failures) {
  console.error(server.log());
  process.exit(1);
}
console.log(`PASS (screenshots in ${artifacts})`);
