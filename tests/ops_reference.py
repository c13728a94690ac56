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

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from refutil import Server  # noqa: E402


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def post_ok(srv, body, path="/v1/embeddings", headers=None):
    """The JSON answer of srv (refutil.Server) to a POST of body; anything but a 200 fails."""
    status, _, raw = srv.request("POST", path, body, headers, timeout=60)
    if status != 200:
        fail(f"POST {path} {json.dumps(body)[:200]}: {status} {raw[:300]!r}")
    return json.loads(raw)


def stop_ok(srv):
    """Stops srv (SIGTERM): it must drain and exit 0 (a sanitizer's report at exit fails)."""
    rc, tail = srv.stop()
    if rc != 0:
        fail(f"embp serve exited with {rc}:\n{tail}")


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
        ans = post_ok(srv, {"input": texts, "encoding_format": "float", **extra})
        floats = np.array([d["embedding"] for d in ans["data"]], dtype=np.float32)
        d = floats.shape[1]
        seen.append(d)
        ranges = ranges_of(d)
        for enc in ("int8", "uint8", "binary", "ubinary"):
            ans = post_ok(srv, {"input": texts, "encoding_format": enc, **extra})
            got = [row["embedding"] for row in ans["data"]]
            want = quantize_embeddings(floats, precision=enc, ranges=ranges)
            expect_equal(f"{label} {enc} dim {d}", got, want)
        b64 = post_ok(srv, {"input": texts, "encoding_format": "base64", **extra})
        dec = np.array([np.frombuffer(base64.b64decode(r["embedding"]), dtype="<f4")
                        for r in b64["data"]])
        if not np.array_equal(dec, floats):
            fail(f"{label}: base64 float32 differs from the float answer at dim {d}")
        types = ["float", "int8", "ubinary", "binary", "uint8", "base64"]
        co = post_ok(srv, {"input": texts, "embedding_types": types, **extra})
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


def cli_embed(binary, model, texts, *args):
    """`embp embed` of texts (one per stdin line): the embeddings of its JSON lines."""
    p = subprocess.run([binary, "embed", "--model", model, *args], input="\n".join(texts) + "\n",
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        fail(f"embp embed {' '.join(args)}: exit {p.returncode}: {p.stderr[-500:]}")
    return [json.loads(line)["embedding"] for line in p.stdout.splitlines()]


def check_cli(binary, model, texts, ranges_of, args, label):
    """`embp embed --encoding X` against quantize_embeddings of `embp embed`'s floats."""
    from sentence_transformers.util.quantization import quantize_embeddings
    for dims in ([], ["--dimensions", "13"]):
        floats = np.array(cli_embed(binary, model, texts, *args, *dims), dtype=np.float32)
        for enc in ("int8", "uint8", "binary", "ubinary"):
            got = cli_embed(binary, model, texts, "--encoding", enc, *args, *dims)
            expect_equal(f"embp embed --encoding {enc} {label} dim {floats.shape[1]}", got,
                         quantize_embeddings(floats, precision=enc,
                                             ranges=ranges_of(floats.shape[1])))
    print(f"embp embed --encoding: the same with {label}")


def encodings(binary, model, sentences):
    texts = read_sentences(sentences, 40)
    default = lambda d: np.array([[-1.0] * d, [1.0] * d], np.float32)  # noqa: E731
    check_cli(binary, model, texts, default, [], "default ranges")
    srv = Server(binary, model)
    try:
        check_encodings(srv, texts, default, "default ranges [-1, 1]")
        # A deployment's ranges: calibrated as sentence-transformers does (per-dimension min and
        # max of calibration embeddings), on texts other than the ones checked.
        calib = post_ok(srv, {"input": read_sentences(sentences, 80)[40:],
                              "encoding_format": "float"})
        cal = np.array([r["embedding"] for r in calib["data"]], dtype=np.float32)
        status, _, raw = srv.request("POST", "/v1/embeddings",
                                     {"input": "x", "encoding_format": "bogus"})
        if status != 400 or b"encoding_format" not in raw:
            fail(f"encoding_format bogus: {status} {raw[:200]!r}")
    finally:
        stop_ok(srv)
    ranges = np.stack([cal.min(axis=0), cal.max(axis=0)])
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(ranges.tolist(), f)
    srv = Server(binary, model, env={"EMB_PROVIDER_QUANTIZE_RANGES": f.name})
    try:
        check_encodings(srv, texts, lambda d: ranges[:, :d], "calibrated ranges file")
        check_cli(binary, model, texts, lambda d: ranges[:, :d], ["--quantize-ranges", f.name],
                  "the calibrated ranges file")
    finally:
        stop_ok(srv)
        os.unlink(f.name)
    # Ranges of the wrong shape stop the server at start, naming the variable.
    e = dict(os.environ, EMB_PROVIDER_QUANTIZE_RANGES="[[0, 1], [1]]")
    p = subprocess.run([binary, "serve", "--model", model, "--host", "127.0.0.1", "--port", "0"],
                       env=e, capture_output=True, text=True, timeout=60)
    if p.returncode == 0 or "EMB_PROVIDER_QUANTIZE_RANGES" not in p.stderr:
        fail(f"a malformed EMB_PROVIDER_QUANTIZE_RANGES: exit {p.returncode}, {p.stderr[-300:]}")


# ---------------------------------------------------------------- metrics

def scrape(srv, headers):
    """{(sample name, ((label, value), ...)): value} of GET /metrics, by prometheus_client's
    parser, which refuses anything not in the text format."""
    from prometheus_client.parser import text_string_to_metric_families
    status, hdr, raw = srv.request("GET", "/metrics", headers=headers)
    if status != 200 or not hdr.get("Content-Type", "").startswith("text/plain; version=0.0.4"):
        fail(f"GET /metrics: {status} {hdr.get('Content-Type')} {raw[:200]!r}")
    out, types = {}, {}
    for fam in text_string_to_metric_families(raw.decode()):
        types[fam.name] = fam.type
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out, types


def delta(a, b, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    return b.get(key, 0.0) - a.get(key, 0.0)


def expect(what, got, want):
    if got != want:
        fail(f"/metrics {what}: moved by {got}, expected {want}")


def check_histogram(m, name, label, value):
    """Cumulative buckets, +Inf equal to _count."""
    rows = sorted((float(dict(k[1])["le"]), v) for k, v in m.items()
                  if k[0] == name + "_bucket" and dict(k[1]).get(label) == value)
    if not rows or any(b[1] < a[1] for a, b in zip(rows, rows[1:])):
        fail(f"{name}{{{label}={value}}}: buckets {rows} not cumulative")
    if rows[-1][0] != float("inf") or rows[-1][1] != m[(name + "_count", ((label, value),))]:
        fail(f"{name}{{{label}={value}}}: +Inf bucket {rows[-1]} is not the count")


def metrics(binary, model, sentences):
    texts = read_sentences(sentences, 30)
    key = {"Authorization": "Bearer sekrit"}
    name = 'ti"n\\y'  # a model id the label escaping must carry through: a quote, a backslash
    srv = Server(binary, model, env={"EMB_PROVIDER_API_KEY": "sekrit",
                                     "EMB_PROVIDER_MODEL_NAME": name})
    try:
        status, _, _ = srv.request("GET", "/metrics")
        if status != 401:  # the key rule of every route but /health
            fail(f"GET /metrics without the API key: {status}, expected 401")
        a, types = scrape(srv, key)
        tokens = inputs = 0
        for batch in (texts[:1], texts[1:11], texts[11:30]):
            ans = post_ok(srv, {"input": batch}, headers=key)
            tokens += ans["usage"]["prompt_tokens"]
            inputs += len(batch)
        srv.request("POST", "/v1/embeddings", {"input": "x", "encoding_format": "no"}, key)
        srv.request("GET", "/v1/models", headers=key)
        srv.request("GET", "/v1/models")  # 401
        srv.request("GET", "/no/such/route", headers=key)
        srv.request("GET", "/another?x=1", headers=key)
        b, _ = scrape(srv, key)
        pid = srv.proc.pid
        with open(f"/proc/{pid}/status") as f:
            vmrss = int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) * 1024
    finally:
        stop_ok(srv)
    req = "embp_http_requests_total"
    expect("requests /v1/embeddings 200", delta(a, b, req, route="/v1/embeddings", status="200"), 3)
    expect("requests /v1/embeddings 400", delta(a, b, req, route="/v1/embeddings", status="400"), 1)
    expect("requests /v1/models 200", delta(a, b, req, route="/v1/models", status="200"), 1)
    expect("requests /v1/models 401", delta(a, b, req, route="/v1/models", status="401"), 1)
    expect("requests unmatched 404", delta(a, b, req, route="unmatched", status="404"), 2)
    expect("requests /metrics 200 (the first scrape)",
           delta(a, b, req, route="/metrics", status="200"), 1)
    dur = "embp_http_request_duration_seconds"
    expect("latency count /v1/embeddings", delta(a, b, dur + "_count", route="/v1/embeddings"), 4)
    check_histogram(b, dur, "route", "/v1/embeddings")
    expect("tokens", delta(a, b, "embp_tokens_total", model=name), tokens)
    expect("inputs", delta(a, b, "embp_inputs_total", model=name), inputs)
    expect("batch_size sum", delta(a, b, "embp_batch_size_sum", model=name), inputs)
    expect("batch_tokens sum", delta(a, b, "embp_batch_tokens_sum", model=name), tokens)
    expect("queue waits", delta(a, b, "embp_queue_wait_seconds_count", model=name), 3)
    for h in ("embp_queue_wait_seconds", "embp_batch_size", "embp_batch_tokens"):
        check_histogram(b, h, "model", name)
        if types.get(h) != "histogram":
            fail(f"{h} is a {types.get(h)}, not a histogram")
    expect("queue depth after the answers", b[("embp_queue_tokens", (("model", name),))], 0)
    expect("queued requests after the answers", b[("embp_queue_requests", (("model", name),))], 0)
    rss = b[("process_resident_memory_bytes", ())]
    if not 0.5 * vmrss < rss < 2 * vmrss:
        fail(f"process_resident_memory_bytes {rss} far from /proc VmRSS {vmrss}")
    if not b[("embp_uptime_seconds", ())] > a[("embp_uptime_seconds", ())] >= 0:
        fail("embp_uptime_seconds did not grow")
    print(f"/metrics: parsed by prometheus_client; requests by route and status, {tokens} "
          f"tokens and {inputs} inputs, 3 queue waits, RSS {rss / 2**20:.1f} MiB (VmRSS "
          f"{vmrss / 2**20:.1f} MiB) as served")


# ---------------------------------------------------------------- logs

def logs(binary, model, sentences):
    texts = read_sentences(sentences, 5)
    bad = subprocess.run([binary, "serve", "--model", model, "--port", "0"], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, EMB_PROVIDER_LOG_FORMAT="xml"))
    if bad.returncode == 0 or "EMB_PROVIDER_LOG_FORMAT=xml" not in bad.stderr:
        fail(f"EMB_PROVIDER_LOG_FORMAT=xml: exit {bad.returncode}, {bad.stderr[-300:]}")
    srv = Server(binary, model, env={"EMB_PROVIDER_LOG_FORMAT": "json"})
    sent = {}  # the id each request's answer carried -> (what the client sent, status)
    try:
        cases = [("client-id.ABC_123", True), ("x" * 128, True), ("~!#$%&*+/:;<=>?@[]^`{|}", True),
                 ("has space", False), ("y" * 129, False), ("caf\u00e9", False), (None, False)]
        for i, (rid, valid) in enumerate(cases * 2):
            hdr = {"X-Request-Id": rid} if rid is not None else {}
            status, h, _ = srv.request("POST", "/v1/embeddings", {"input": texts[i % 5]}, hdr)
            got = h.get("X-Request-Id")
            if valid and got != rid:
                fail(f"X-Request-Id {rid!r} came back as {got!r}")
            if not valid and (not re.fullmatch(r"[0-9a-f]{32}", got or "") or got == rid):
                fail(f"X-Request-Id {rid!r} (invalid) came back as {got!r}, not a new id")
            if not valid and got in sent:
                fail(f"generated X-Request-Id {got} twice")
            if valid or got not in sent:
                sent.setdefault(got, []).append(status)
        status, h, _ = srv.request("GET", "/no/such", headers={"X-Request-Id": "on-a-404"})
        if h.get("X-Request-Id") != "on-a-404":
            fail(f"a 404 answered X-Request-Id {h.get('X-Request-Id')!r}")
        sent.setdefault("on-a-404", []).append(status)
        # A path with a quote, a newline and an invalid UTF-8 byte (libmicrohttpd unescapes
        # %XX) must stay one JSON record.
        status, h, _ = srv.request("GET", "/q%22n%0Ax%FF", headers={"X-Request-Id": "odd-path"})
        sent.setdefault("odd-path", []).append(status)
    finally:
        stop_ok(srv)
    lines = srv.text().splitlines()
    records = []
    for n, line in enumerate(lines):
        try:
            rec = json.loads(line)
        except ValueError:
            fail(f"log line {n + 1} is not JSON: {line[:200]!r}")
        if not isinstance(rec, dict) or not {"time", "level", "msg"} <= rec.keys():
            fail(f"log line {n + 1} lacks time/level/msg: {line[:200]}")
        if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", rec["time"]):
            fail(f"log line {n + 1}: time {rec['time']!r}")
        records.append(rec)
    reqs = [r for r in records if "request_id" in r]
    logged = {}
    for r in reqs:
        if not isinstance(r.get("latency_ms"), (int, float)) or not isinstance(r.get("status"), int):
            fail(f"request record without numbers: {r}")
        logged.setdefault(r["request_id"], []).append(r["status"])
    if logged != sent:
        fail(f"request records {logged} are not the requests answered {sent}")
    post = [r for r in reqs if r["route"] == "/v1/embeddings"]
    if any(r["method"] != "POST" or r["inputs"] != 1 or r["tokens"] < 1 for r in post):
        fail(f"an embeddings record lacks method/inputs/tokens: {post[0]}")
    if not any(r["route"] == "unmatched" and r["path"] == "/no/such" for r in reqs):
        fail("the 404's record lacks route unmatched and its path")
    odd = [r for r in reqs if r["request_id"] == "odd-path"]
    if not odd or not odd[0]["path"].startswith('/q"n\nx'):
        fail(f"the odd path's record: {odd}")
    print(f"{len(lines)} log lines, each one JSON object; {len(reqs)} request records, each "
          f"with the X-Request-Id its answer carried ({len(sent)} ids, client's or generated)")


def main():
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd, binary, model, sentences = sys.argv[1:]
    {"encodings": encodings, "metrics": metrics, "logs": logs}[cmd](binary, model, sentences)
    print("PASS")


if __name__ == "__main__":
    main()
