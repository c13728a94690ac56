"""Operations checks over HTTP against `embp serve` (tests/test_encodings.sh, test_metrics.sh,
test_logs.sh): each runs the real binary on a fixture model and judges what it answers with an
independent reference.

  encodings BIN MODEL SENTENCES  int8/uint8/binary/ubinary answers equal sentence-transformers'
                                 quantize_embeddings of the same server's float vectors, with
                                 the same ranges (the default [-1, 1] and a deployment's file)
  metrics BIN MODEL SENTENCES    GET /metrics parses with prometheus_client's parser and its
                                 counters move by exactly the requests served
  logs BIN MODEL SENTENCES       EMB_PROVIDER_LOG_FORMAT=json: every stderr line is one JSON
                                 object; each request's line carries its X-Request-Id
"""
import base64
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


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


class Server:
    """`embp serve --model MODEL` on 127.0.0.1, any free port; stderr into a temporary file."""

    def __init__(self, binary, model, env=None, args=()):
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", delete=False)
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(
            [binary, "serve", "--model", model, "--host", "127.0.0.1", "--port", "0",
             *args], stdout=subprocess.DEVNULL, stderr=self.log, env=e)
        self.port = None
        for _ in range(600):
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", self.text())
            if m:
                self.port = int(m.group(1))
                return
            if self.proc.poll() is not None:
                fail("embp serve exited before listening:\n" + self.text())
            time.sleep(0.05)
        self.stop()
        fail("embp serve did not listen within 30 s:\n" + self.text())

    def text(self):
        with open(self.log.name) as f:
            return f.read()

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body bytes)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     method=method, headers=headers or {})
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def post(self, body, path="/v1/embeddings", headers=None):
        status, _, raw = self.request("POST", path, body, headers)
        if status != 200:
            fail(f"POST {path} {json.dumps(body)[:200]}: {status} {raw[:300]!r}")
        return json.loads(raw)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def read_sentences(path, n):
    with open(path, encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip()]
    return lines[:n]


# ---------------------------------------------------------------- encodings

def expect_equal(what, got, want):
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        fail(f"{what}: shape {got.shape}, sentence-transformers {want.shape}")
    bad = np.argwhere(got.astype(np.int64) != want.astype(np.int64))
    if len(bad):
        i, j = bad[0]
        fail(f"{what}: {len(bad)} values differ; first at row {i} byte {j}: embp {got[i, j]}, "
             f"sentence-transformers {want[i, j]}")


def check_encodings(srv, texts, ranges_of, label):
    """Every encoding of srv against quantize_embeddings of its own float answer, at the full
    dimension and at 13 (not a multiple of 8: packbits pads), OpenAI's and Cohere's shapes."""
    from sentence_transformers.util.quantization import quantize_embeddings
    seen = []
    for dims in (None, 13):
        extra = {"dimensions": dims} if dims else {}
        ans = srv.post({"input": texts, "encoding_format": "float", **extra})
        floats = np.array([d["embedding"] for d in ans["data"]], dtype=np.float32)
        d = floats.shape[1]
        seen.append(d)
        ranges = ranges_of(d)
        for enc in ("int8", "uint8", "binary", "ubinary"):
            ans = srv.post({"input": texts, "encoding_format": enc, **extra})
            got = [row["embedding"] for row in ans["data"]]
            want = quantize_embeddings(floats, precision=enc, ranges=ranges)
            expect_equal(f"{label} {enc} dim {d}", got, want)
        b64 = srv.post({"input": texts, "encoding_format": "base64", **extra})
        dec = np.array([np.frombuffer(base64.b64decode(r["embedding"]), dtype="<f4")
                        for r in b64["data"]])
        if not np.array_equal(dec, floats):
            fail(f"{label}: base64 float32 differs from the float answer at dim {d}")
        types = ["float", "int8", "ubinary", "binary", "uint8", "base64"]
        co = srv.post({"input": texts, "embedding_types": types, **extra})
        if co.get("response_type") != "embeddings_by_type" or list(co["embeddings"]) != types:
            fail(f"{label}: Cohere shape {json.dumps(co)[:300]}")
        if not np.array_equal(np.array(co["embeddings"]["float"], dtype=np.float32), floats):
            fail(f"{label}: embedding_types float differs from encoding_format float")
        for enc in ("int8", "uint8", "binary", "ubinary"):
            expect_equal(f"{label} embedding_types {enc} dim {d}", co["embeddings"][enc],
                         quantize_embeddings(floats, precision=enc, ranges=ranges))
        if co["texts"] != texts:
            fail(f"{label}: Cohere texts {co['texts'][:3]} are not the inputs")
    print(f"{label}: int8, uint8, binary, ubinary equal quantize_embeddings on {len(texts)} "
          f"texts at dims {seen}; Cohere's embedding_types shape too")


def encodings(binary, model, sentences):
    texts = read_sentences(sentences, 40)
    srv = Server(binary, model)
    try:
        check_encodings(srv, texts, lambda d: np.array([[-1.0] * d, [1.0] * d], np.float32),
                        "default ranges [-1, 1]")
        # A deployment's ranges: calibrated as sentence-transformers does (per-dimension min and
        # max of calibration embeddings), on texts other than the ones checked.
        calib = srv.post({"input": read_sentences(sentences, 80)[40:], "encoding_format": "float"})
        cal = np.array([r["embedding"] for r in calib["data"]], dtype=np.float32)
        status, _, raw = srv.request("POST", "/v1/embeddings",
                                     {"input": "x", "encoding_format": "bogus"})
        if status != 400 or b"encoding_format" not in raw:
            fail(f"encoding_format bogus: {status} {raw[:200]!r}")
    finally:
        srv.stop()
    ranges = np.stack([cal.min(axis=0), cal.max(axis=0)])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(ranges.tolist(), f)
    srv = Server(binary, model, env={"EMB_PROVIDER_QUANTIZE_RANGES": f.name})
    try:
        check_encodings(srv, texts, lambda d: ranges[:, :d], "calibrated ranges file")
    finally:
        srv.stop()
        os.unlink(f.name)
    # Ranges of the wrong shape stop the server at start, naming the variable.
    e = dict(os.environ, EMB_PROVIDER_QUANTIZE_RANGES="[[0, 1], [1]]")
    p = subprocess.run([binary, "serve", "--model", model, "--host", "127.0.0.1", "--port", "0"],
                       env=e, capture_output=True, text=True, timeout=60)
    if p.returncode == 0 or "EMB_PROVIDER_QUANTIZE_RANGES" not in p.stderr:
        fail(f"a malformed EMB_PROVIDER_QUANTIZE_RANGES: exit {p.returncode}, {p.stderr[-300:]}")


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd, binary, model, sentences = sys.argv[1:]
    {"encodings": encodings}[cmd](binary, model, sentences)
    print("PASS")


if __name__ == "__main__":
    main()
