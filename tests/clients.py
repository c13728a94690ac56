#!/usr/bin/env python3
"""Real clients from PyPI against one running `embp serve` (tests/test_clients.sh starts it
with the tiny fixture, an API key and EMB_PROVIDER_MODEL_ALIASES):
- huggingface_hub's InferenceClient(base_url=...).feature_extraction, which POSTs TEI's /embed
  shape to the server's root, as it does against TEI;
- LangChain's OpenAIEmbeddings (langchain-openai) under an alias model name;
- LangChain's TEI class, langchain-huggingface's HuggingFaceEndpointEmbeddings.
Each vector is checked against the ONNX Runtime peer's (tests/make_fixtures.sh, HF tokenizers +
ONNX Runtime: cosine >= 0.99999) and against embp's own /v1/embeddings answer.
Usage: clients.py BASE_URL API_KEY ALIAS PEER_JSONL"""
import json
import math
import sys
import urllib.request

base, key, alias, peer_path = sys.argv[1:5]
peer = [json.loads(line) for line in open(peer_path, encoding="utf-8")]
# lines the tiny model (max_seq_len 128) embeds whole, as the peer did
rows = [r for r in peer if len(r["input_ids"]) <= 128][:12]
texts = [r["text"] for r in rows]


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def check(name, vecs):
    assert len(vecs) == len(rows), "%s: %d vectors for %d texts" % (name, len(vecs), len(rows))
    for i, (v, r) in enumerate(zip(vecs, rows)):
        v = [float(x) for x in v]
        assert len(v) == len(r["embedding"]), "%s row %d: %d values" % (name, i, len(v))
        c = cosine(v, r["embedding"])
        assert c >= 0.99999, "%s row %d (%r): cosine %.7f to the peer" % (name, i, r["text"], c)
    print("%s: %d vectors match the peer" % (name, len(vecs)))


req = urllib.request.Request(base + "/v1/embeddings", data=json.dumps(
    {"input": texts, "model": alias, "encoding_format": "float"}).encode(),
    headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
with urllib.request.urlopen(req) as resp:
    openai_rows = [d["embedding"] for d in json.load(resp)["data"]]
check("/v1/embeddings", openai_rows)


def same_as_openai_route(name, vecs):
    worst = max(abs(float(x) - y) for v, w in zip(vecs, openai_rows) for x, y in zip(v, w))
    assert worst <= 1e-6, "%s: max |diff| %.3g to /v1/embeddings" % (name, worst)


from huggingface_hub import InferenceClient  # noqa: E402

client = InferenceClient(base_url=base, api_key=key)
hub = [client.feature_extraction(t)[0] for t in texts]
check("huggingface_hub InferenceClient.feature_extraction", hub)
same_as_openai_route("feature_extraction", hub)
cut = client.feature_extraction(texts[0], dimensions=16, normalize=True, truncate=True,
                                truncation_direction="left")
assert cut.shape == (1, 16), cut.shape
assert abs(sum(float(x) ** 2 for x in cut[0]) - 1.0) < 1e-5
print("feature_extraction(dimensions=16, truncation_direction='left'): shape", cut.shape)

from langchain_openai import OpenAIEmbeddings  # noqa: E402

# check_embedding_ctx_length=False: by default LangChain tokenizes with tiktoken (a download,
# and OpenAI's token ids, which mean nothing to another model) and sends ids; embp needs text.
lc = OpenAIEmbeddings(base_url=base + "/v1", api_key=key, model=alias,
                      check_embedding_ctx_length=False)
docs = lc.embed_documents(texts)
check("langchain_openai OpenAIEmbeddings(model=%r)" % alias, docs)
same_as_openai_route("OpenAIEmbeddings", docs)
same_as_openai_route("OpenAIEmbeddings.embed_query", [lc.embed_query(texts[0])] +
                     openai_rows[1:])

from langchain_huggingface import HuggingFaceEndpointEmbeddings  # noqa: E402

tei = HuggingFaceEndpointEmbeddings(model=base, huggingfacehub_api_token=key)
docs = tei.embed_documents(texts)
check("langchain_huggingface HuggingFaceEndpointEmbeddings", docs)
same_as_openai_route("HuggingFaceEndpointEmbeddings", docs)
print("PASS")
