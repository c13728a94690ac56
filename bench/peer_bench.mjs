// The ONNX Runtime peer on workloads peer.mjs bench does not cover, with the same libraries
// (its node_modules): HF tokenizers + onnxruntime-node, padding each batch to its longest
// sequence as the peers (TEI's ONNX path, Infinity) do. mixed sorts the corpus by length first,
// longest first, as sentence-transformers' encode() does (argsort of -len(text)), so each batch
// pads only to texts of about its own length, and runs whole passes over it (at least one, then
// until --seconds), so every line of the corpus is in the figure as it is in embp's.
//   node peer_bench.mjs PEER_DIR MODEL_DIR mixed CORPUS [--batch 32] [--threads 2] [--seconds 10]
//   node peer_bench.mjs PEER_DIR MODEL_DIR latency [--words 8] [--threads 2] [--seconds 5]
// Prints one JSON line.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [peerDir, dir, mode, corpusPath] = process.argv.slice(2);
const require = createRequire(path.join(path.resolve(peerDir), 'package.json'));
const { Tokenizer } = require('tokenizers');
const ort = require('onnxruntime-node');
const arg = (n, d) => { const i = process.argv.indexOf('--' + n); return i > 0 ? Number(process.argv[i + 1]) : d; };
const threads = arg('threads', 2), secs = arg('seconds', 10);
const maxSeq = JSON.parse(fs.readFileSync(path.join(dir, 'sentence_bert_config.json'), 'utf8')).max_seq_length;
const tok = Tokenizer.fromFile(path.join(dir, 'tokenizer.json'));
tok.setTruncation(maxSeq);
const sess = await ort.InferenceSession.create(path.join(dir, 'onnx', 'model.onnx'),
  { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });

async function embed(texts) {  // tokenize, pad to longest, run, mean-pool: returns real tokens
  const encs = (await tok.encodeBatch(texts)).map(e => {
    const n = e.getAttentionMask().reduce((a, b) => a + b, 0); return e.getIds().slice(0, n); });
  const B = encs.length, S = Math.max(...encs.map(e => e.length));
  const ids = new BigInt64Array(B * S), mask = new BigInt64Array(B * S), types = new BigInt64Array(B * S);
  encs.forEach((e, b) => e.forEach((v, t) => { ids[b * S + t] = BigInt(v); mask[b * S + t] = 1n; }));
  const out = (await sess.run({ input_ids: new ort.Tensor('int64', ids, [B, S]),
    attention_mask: new ort.Tensor('int64', mask, [B, S]), token_type_ids: new ort.Tensor('int64', types, [B, S]) })).last_hidden_state;
  const H = out.dims[2], v = new Float32Array(H);
  encs.forEach((e, b) => { for (let t = 0; t < e.length; t++) for (let j = 0; j < H; j++) v[j] += out.data[(b * S + t) * H + j]; });
  return encs.reduce((s, e) => s + e.length, 0);
}

if (mode === 'mixed') {
  // [...l].length counts code points, as Python's len() does; sort() is stable, as argsort's
  // ties fall in the corpus order (the default quicksort need not keep it: one ordering of equals)
  const lines = fs.readFileSync(corpusPath, 'utf8').split('\n').filter(l => l)
    .map(l => [[...l].length, l]).sort((a, b) => b[0] - a[0]).map(([, l]) => l);
  const B = arg('batch', 32);
  await embed(lines.slice(0, B));
  let tokens = 0, done = 0; const t0 = performance.now();
  while (done < lines.length || performance.now() - t0 < secs * 1000) {
    const i = done % lines.length;
    tokens += await embed(lines.slice(i, Math.min(i + B, lines.length))); done += Math.min(B, lines.length - i);
  }
  const el = (performance.now() - t0) / 1000;
  console.log(JSON.stringify({ engine: 'onnxruntime-node', mode, batch: B, threads, sorted: true,
    passes: done / lines.length, tokens_per_second: tokens / el }));
} else if (mode === 'latency') {
  const text = Array.from({ length: arg('words', 8) }, (_, k) => ['hello', 'world', 'embedding', 'latency'][k % 4]).join(' ');
  for (let k = 0; k < 20; k++) await embed([text]);
  const lat = []; const t0 = performance.now();
  while (performance.now() - t0 < secs * 1000) { const s = performance.now(); await embed([text]); lat.push(performance.now() - s); }
  lat.sort((a, b) => a - b);
  console.log(JSON.stringify({ engine: 'onnxruntime-node', mode, threads, p50_ms: lat[Math.floor(lat.length * 0.5)],
    p99_ms: lat[Math.floor(lat.length * 0.99)], runs: lat.length }));
} else { console.error('usage: peer_bench.mjs PEER_DIR MODEL_DIR mixed CORPUS | latency'); process.exit(2); }
