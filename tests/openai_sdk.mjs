// The official OpenAI Node SDK against a running embp: the default (base64) path and
// encoding_format "float" must both give the peer's vectors (cosine >= 0.99999).
// usage: node openai_sdk.mjs BASE_URL PEER_JSONL MODEL_ID   (NODE_PATH: where `openai` is)
// Exits nonzero with both sides printed on any mismatch.
import fs from 'node:fs';
import { createRequire } from 'node:module';

const [baseURL, peerPath, model] = process.argv.slice(2);
if (!baseURL || !peerPath || !model) {
  console.error('usage: node openai_sdk.mjs BASE_URL PEER_JSONL MODEL_ID');
  process.exit(2);
}
const require = createRequire(process.env.OPENAI_SDK_DIR ? process.env.OPENAI_SDK_DIR + '/' : import.meta.url);
const OpenAI = require('openai').default ?? require('openai');
const peer = fs.readFileSync(peerPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).slice(0, 16);
const texts = peer.map((p) => p.text);
const client = new OpenAI({ baseURL, apiKey: process.env.EMBP_TEST_API_KEY ?? 'unused' });

function cosine(a, b) {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return d / Math.sqrt(na * nb);
}

let failures = 0;
for (const format of [undefined, 'float']) {
  const args = { model, input: texts };
  if (format) args.encoding_format = format;
  const res = await client.embeddings.create(args);
  const label = format ?? 'default (base64)';
  if (res.data.length !== texts.length) {
    console.error(`${label}: ${res.data.length} rows for ${texts.length} inputs`);
    failures++;
    continue;
  }
  const wantTokens = peer.reduce((s, p) => s + p.input_ids.length, 0);
  if (res.usage.prompt_tokens !== wantTokens) {
    console.error(`${label}: usage.prompt_tokens ${res.usage.prompt_tokens}, peer ${wantTokens}`);
    failures++;
  }
  res.data.forEach((d, i) => {
    const c = cosine(d.embedding, peer[i].embedding);
    if (!(c >= 0.99999) || d.index !== i) {
      console.error(`${label} row ${i} (${JSON.stringify(texts[i])}): cosine ${c}, index ${d.index}`);
      console.error(`  embp ${d.embedding.slice(0, 4)}  peer ${peer[i].embedding.slice(0, 4)}`);
      failures++;
    }
  });
  console.log(`${label}: ${res.data.length} rows checked`);
}
process.exit(failures ? 1 : 0);
