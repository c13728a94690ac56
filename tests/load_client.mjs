// A load client for embp's over-capacity and concurrency tests (no dependencies: Node 20's fetch).
//   node load_client.mjs URL --clients 64 --seconds 10 [--texts 48] [--inputs 4] [--api-key K]
// Phase 1 embeds each of --texts distinct texts alone: the expected answer for each.
// Phase 2 runs --clients concurrent loops for --seconds, each request carrying --inputs texts
// picked at random, and checks every answer: status 200 with each vector equal (max |diff| <= 1e-5)
// to its text's expected vector, or 503/429 carrying Retry-After. Anything else is a failure.
// Prints one JSON line: counts per status, mismatches, errors, requests/s, p50/p99 latency (ms)
// of the 200s; exits 1 on any failure.
const url = process.argv[2];
const arg = (n, d) => { const i = process.argv.indexOf('--' + n); return i > 0 ? process.argv[i + 1] : d; };
const clients = Number(arg('clients', 8)), secs = Number(arg('seconds', 5));
const nTexts = Number(arg('texts', 48)), perReq = Number(arg('inputs', 4)), key = arg('api-key', null);
const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
const texts = Array.from({ length: nTexts }, (_, i) =>
  Array.from({ length: 3 + (i * 7) % 40 }, (_, k) => words[(i + k * 3) % 10]).join(' ') + ' #' + i);
const headers = { 'Content-Type': 'application/json', ...(key ? { Authorization: 'Bearer ' + key } : {}) };

async function post(input) {
  const r = await fetch(url + '/v1/embeddings', { method: 'POST', headers, body: JSON.stringify({ input }) });
  return { status: r.status, retry: r.headers.get('retry-after'), body: await r.text() };
}

const expected = [];
for (const t of texts) {
  const r = await post([t]);
  if (r.status !== 200) { console.log(JSON.stringify({ error: 'warm-up got ' + r.status, body: r.body })); process.exit(1); }
  expected.push(JSON.parse(r.body).data[0].embedding);
}
const stats = { statuses: {}, mismatches: 0, errors: 0, bad_503: 0 }, lat = [];
const t0 = performance.now();
async function loop(seed) {
  let s = seed * 2654435761 % 4294967296;
  while (performance.now() - t0 < secs * 1000) {
    const pick = Array.from({ length: perReq }, () => (s = (s * 1103515245 + 12345) % 2147483648) % nTexts);
    const start = performance.now();
    let r;
    try { r = await post(pick.map(i => texts[i])); } catch (e) { stats.errors++; continue; }
    stats.statuses[r.status] = (stats.statuses[r.status] || 0) + 1;
    if (r.status === 200) {
      lat.push(performance.now() - start);
      const data = JSON.parse(r.body).data;
      pick.forEach((ti, k) => {
        const got = data[k].embedding, want = expected[ti];
        if (data[k].index !== k || got.length !== want.length || got.some((v, j) => Math.abs(v - want[j]) > 1e-5)) stats.mismatches++;
      });
    } else if (r.status === 503 || r.status === 429) {
      if (!r.retry) stats.bad_503++;
      await new Promise(res => setTimeout(res, 5));
    }
  }
}
await Promise.all(Array.from({ length: clients }, (_, i) => loop(i + 1)));
const el = (performance.now() - t0) / 1000;
lat.sort((a, b) => a - b);
const ok = stats.statuses[200] || 0;
const other = Object.entries(stats.statuses).filter(([k]) => !['200', '503', '429'].includes(k));
const out = { clients, seconds: el, ...stats, requests_per_second: ok / el,
  p50_ms: lat[Math.floor(lat.length * 0.5)] ?? null, p99_ms: lat[Math.floor(lat.length * 0.99)] ?? null };
console.log(JSON.stringify(out));
process.exit(stats.mismatches || stats.errors || stats.bad_503 || other.length || ok === 0 ? 1 : 0);
