"""What the Python reference tests (tests/*_reference.py) and bench/ share: the reference side
(sentence-transformers, HF tokenizers, randomized transformers models, the training corpus),
the embp side (the CLI and an `embp serve` driver) and the verdict (cosines, the FAIL lines and
the exit status). Runs with the venv's Python (scripts/venv.sh --reference); numpy is the only
import at load, the rest is imported where it is used."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import numpy as np

# The tokenizer training text the reference scripts share (paths below the source tree).
CORPUS_FILES = ("tests/data/tokenizer_corpus.txt", "tests/data/tokenizer_corpus_multi.txt",
                "tests/data/sentences_extra.txt")


def load_texts(path):
    """The texts of a JSON-lines file of strings."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def corpus_lines(src, files=CORPUS_FILES):
    """The non-blank lines of files (paths below the source tree src), in order."""
    lines = []
    for p in files:
        with open(os.path.join(src, p), encoding="utf-8") as f:
            lines += [t for t in f.read().split("\n") if t.strip()]
    return lines


def randomize(model):
    """transformers initializes norms to (1, 0) and biases to 0: randomized, so that a norm or
    bias read from the wrong tensor shows."""
    import torch
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n.endswith(".bias"):
                p.normal_(0.0, 0.1)
            elif "norm" in n.lower():
                p.normal_(1.0, 0.2)


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


def cosines(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


# ---------------------------------------------------------------- embp

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
    """`embp serve` (of model_dir, or of the --model in flags) on a free loopback port, its
    stderr in a temporary file, env added to this process's environment; stopped with SIGTERM
    to its own pid."""

    def __init__(self, binary, model_dir=None, flags=(), env=None):
        self.log = tempfile.TemporaryFile()
        model = ["--model", model_dir] if model_dir else []
        self.proc = subprocess.Popen([binary, "serve", *model, "--host", "127.0.0.1", "--port",
                                      "0", "--fidelity-cache", "off", *flags], stderr=self.log,
                                     stdout=subprocess.DEVNULL, env=dict(os.environ, **(env or {})))
        deadline = time.time() + 900  # a loaded machine warms up slowly
        self.port = None
        while self.port is None:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.text())
            if m:
                self.port = int(m.group(1))
            elif self.proc.poll() is not None or time.time() > deadline:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("embp serve did not start: " + self.text()[-3000:])
            else:
                time.sleep(0.1)

    def text(self):
        """The server's log (stderr) so far."""
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def request(self, method, path, body=None, headers=None, timeout=600):
        """(HTTP status, headers, body bytes) of method path; body: bytes as they are, else
        JSON (None: no body), sent as application/json."""
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path), data=data,
                                     method=method, headers=headers or {})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def post(self, path, body, headers=None):
        """(HTTP status, the JSON answer) of a POST of body (bytes as they are, else as JSON)."""
        status, _, raw = self.request("POST", path, body, headers)
        return status, json.loads(raw)

    def embed(self, texts, model=None, **fields):
        """POST /v1/embeddings of texts (and the request's other fields): the vectors, in order."""
        body = dict(input=texts, **fields)
        if model:
            body["model"] = model
        status, ans = self.post("/v1/embeddings", body)
        assert status == 200, (status, ans)
        assert [d["index"] for d in ans["data"]] == list(range(len(texts)))
        return np.array([d["embedding"] for d in ans["data"]], dtype=np.float32)

    def get(self, path):
        status, _, raw = self.request("GET", path, timeout=60)
        assert status == 200, (path, status, raw[:300])
        return json.loads(raw)

    def stop(self):
        """Stops it (SIGTERM; killed after 120 s); its exit status (a sanitizer's report makes
        it nonzero) and log's tail."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode, self.text()[-3000:]


# ---------------------------------------------------------------- verdict

def finish(failures, shown=40):
    """Prints the first `shown` failures and exits 1 if there are any; else prints PASS."""
    for f in failures[:shown]:
        print("FAIL:", f)
    if failures:
        print("%d failures" % len(failures))
        sys.exit(1)
    print("PASS")
