"""sentence-transformers as the reference for embp on a real checkpoint.

As a program (tests/test_st_reference.sh runs it with the venv's Python):
    st_reference.py EMBP_BIN MODEL_DIR CORPUS.jsonl
embeds every text of the corpus with SentenceTransformer(MODEL_DIR).encode() in fp32 and
tokenizes it with HF `tokenizers` (truncated at the model's max_seq_length), then asks embp for
the same through the CLI (`embp tokenize`, `embp embed`) and the server (`embp serve`, batches
over HTTP), and fails unless embp's token ids are equal on every text and its vectors have
cosine >= COS_MIN and |difference| <= DIFF_MAX on every text.

As a module (bench/fidelity.py): the same reference and the same embp drivers."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np

COS_MIN = 0.99999
DIFF_MAX = 1e-4


def load_texts(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def st_model(model_dir):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    return SentenceTransformer(model_dir, device="cpu")


def st_encode(model, texts):
    """fp32 vectors as sentence-transformers gives them (its modules: pooling, Normalize)."""
    import torch
    torch.manual_seed(0)
    return np.asarray(model.encode(texts, batch_size=32, convert_to_numpy=True), dtype=np.float32)


def hf_ids(model_dir, max_len, texts):
    """Token ids from HF tokenizers' Rust tokenizer.json reader, truncated as ST truncates."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_len)
    return [e.ids for e in tok.encode_batch(texts)]


def _chunks(texts, n=200):
    """embp takes at most 256 --text flags a run; texts go as arguments so newlines survive."""
    for k in range(0, len(texts), n):
        args = []
        for t in texts[k:k + n]:
            args += ["--text", t]
        yield args


def _run(argv, what):
    r = subprocess.run(argv, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("%s exited %d: %s" % (what, r.returncode, r.stderr.decode()[-2000:]))
    rows = [json.loads(line) for line in r.stdout.decode().split("\n") if line.strip()]
    return rows, r.stderr.decode()


def embp_tokenize(binary, model_dir, texts):
    ids = []
    for args in _chunks(texts):
        ids += [row["ids"] for row in _run([binary, "tokenize", "--model", model_dir] + args,
                                           "embp tokenize")[0]]
    return ids


def embp_embed(binary, model_dir, texts, flags=()):
    """Vectors from `embp embed` with flags, and its log."""
    vecs, logs = [], ""
    for args in _chunks(texts):
        rows, log = _run([binary, "embed", "--model", model_dir, "--fidelity-cache", "off",
                          *flags] + args, "embp embed " + " ".join(flags))
        assert [row["index"] for row in rows] == list(range(len(args) // 2))
        vecs += [row["embedding"] for row in rows]
        logs += log
    return np.array(vecs, dtype=np.float32), logs


class Server:
    """`embp serve` on a free loopback port, stopped with SIGTERM."""

    def __init__(self, binary, model_dir, flags=()):
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([binary, "serve", "--model", model_dir, "--host",
                                      "127.0.0.1", "--port", "0", "--fidelity-cache", "off",
                                      *flags], stderr=self.log, stdout=subprocess.DEVNULL)
        deadline = time.time() + 600  # a loaded machine warms up slowly
        self.port = None
        while self.port is None:
            self.log.seek(0)
            m = re.search(rb"listening on 127\.0\.0\.1:(\d+)", self.log.read())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None or time.time() > deadline:
                self.log.seek(0)
                raise RuntimeError("embp serve did not start: " + self.log.read().decode()[-2000:])
            else:
                time.sleep(0.1)

    def embed(self, texts, model=None):
        body = {"input": texts}
        if model:
            body["model"] = model
        req = urllib.request.Request("http://127.0.0.1:%d/v1/embeddings" % self.port,
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=300) as r:
            data = json.load(r)["data"]
        assert [d["index"] for d in data] == list(range(len(texts)))
        return np.array([d["embedding"] for d in data], dtype=np.float32)

    def get(self, path):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=30) as r:
            return json.load(r)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=60)


def cosines(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def compare(name, ref, got, texts):
    """Prints the worst cosine and difference of got against ref; returns the failures."""
    cos = cosines(ref, got)
    diff = np.abs(ref - got).max(1)
    i, j = int(cos.argmin()), int(diff.argmax())
    print("%-30s %d texts: min cosine %.8f (text %d), max |diff| %.2e (text %d)"
          % (name, len(texts), cos[i], i, diff[j], j))
    bad = []
    for k in range(len(texts)):
        if not (cos[k] >= COS_MIN and diff[k] <= DIFF_MAX):
            bad.append("%s: text %d %r: cosine %.8f, max |diff| %.2e"
                       % (name, k, texts[k][:60], cos[k], diff[k]))
    return bad


def main():
    binary, model_dir, corpus = sys.argv[1:4]
    texts = load_texts(corpus)
    model = st_model(model_dir)
    max_len = model.max_seq_length
    t0 = time.time()
    ref = st_encode(model, texts)
    ids = hf_ids(model_dir, max_len, texts)
    print("reference: sentence-transformers fp32 on %d texts in %.1f s (max_seq_length %d)"
          % (len(texts), time.time() - t0, max_len))
    # The reference agrees with itself: ST's own tokenizer gives HF tokenizers' ids.
    enc = model.tokenizer(texts, truncation=True, max_length=max_len)["input_ids"]
    for k, t in enumerate(texts):
        assert list(enc[k]) == ids[k], ("ST's tokenizer vs HF tokenizers", k, t[:60])
    assert any(len(i) == max_len for i in ids), "no text reaches max_seq_length"
    empty = [k for k, i in enumerate(ids) if len(i) == 2]
    print("texts truncated at %d: %d; [CLS][SEP] only: %d"
          % (max_len, sum(len(i) == max_len for i in ids), len(empty)))

    failures = []
    got_ids = embp_tokenize(binary, model_dir, texts)
    for k, (a, b) in enumerate(zip(ids, got_ids)):
        if a != b:
            failures.append("tokenize: text %d %r: embp %s..., HF tokenizers %s..."
                            % (k, texts[k][:60], b[:12], a[:12]))
    print("embp tokenize: ids equal on %d of %d texts" % (len(texts) - len(failures), len(texts)))

    cli, log = embp_embed(binary, model_dir, texts)
    if "DEMO" in log:
        failures.append("embp embed says the model is a demo")
    failures += compare("embp embed (CLI)", ref, cli, texts)

    srv = Server(binary, model_dir)
    try:
        name = srv.get("/v1/models")["data"][0]["id"]
        # The API refuses "" (400, as OpenAI does); every other text goes over HTTP.
        keep = [k for k, t in enumerate(texts) if t]
        sub, sref = [texts[k] for k in keep], ref[keep]
        whole = srv.embed(sub, model=name)  # one request: the batcher splits and packs it
        parts = np.concatenate([srv.embed(sub[k:k + 64]) for k in range(0, len(sub), 64)])
        failures += compare("embp serve, one request", sref, whole, sub)
        failures += compare("embp serve, requests of 64", sref, parts, sub)
    finally:
        srv.stop()

    for f in failures[:40]:
        print("FAIL " + f)
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
