"""GET /openapi.json against a live `embp serve` (tests/test_openapi.sh): the tiny fixture
embedder and a tiny reranker made from it, behind an API key. The document must validate with
openapi-spec-validator (OpenAPI 3.1), and schemathesis, generating requests from it (bounded:
a fixed seed, deterministic generation, a few examples per operation, one worker), must find
no response that breaks it (status, content type, headers, body schema), no 5xx, no invalid
request accepted, no undocumented method answered but 405, no guarded route open without the
key. Not checked: that every request the schemas allow gets a 2xx (schemathesis'
positive_data_acceptance): embp refuses, with a 400/422 that names why, what a JSON Schema of
the routes cannot state: texts that tokenize to nothing, token ids beyond the vocabulary,
dimensions beyond the model's, prompt names the model lacks, a model of the other kind (an
embedder named on /rerank), a NUL in an object key (jansson keeps keys as C strings). A run
with 100 examples per operation found only those.

Run by tests/test_openapi.sh with ctest's EMBP_BIN and EMBP_FIXTURES; with
EMBP_TEST_SANITIZER set (the ASan+UBSan server), fewer examples per operation: the same
checks, about half the time. Exits 77 (skipped) without openapi-spec-validator or schemathesis.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

try:
    import numpy as np
    import openapi_spec_validator
    import schemathesis  # noqa: F401 (run as its CLI, from this venv)
except ImportError as e:
    print(f"SKIP: {e.name} is not in {sys.prefix} (scripts/venv.sh --reference installs it)")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ops_reference import fail, stop_ok  # noqa: E402
from refutil import Server  # noqa: E402

KEY = "sk-embp-openapi-test"
SEED = 16


def make_reranker(tiny, out):
    """tiny as a BERT cross-encoder (BertForSequenceClassification, one label): its encoder's
    tensors plus transformers' pooler and classifier, seeded random, appended to a copy of its
    safetensors file; tokenizer files as they are, no sentence-transformers modules."""
    os.makedirs(out, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt"):
        if os.path.exists(os.path.join(tiny, name)):
            with open(os.path.join(tiny, name), "rb") as f, \
                    open(os.path.join(out, name), "wb") as g:
                g.write(f.read())
    with open(os.path.join(tiny, "config.json")) as f:
        cfg = json.load(f)
    cfg["architectures"] = ["BertForSequenceClassification"]
    cfg["id2label"] = {"0": "LABEL_0"}
    cfg["label2id"] = {"LABEL_0": 0}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f)
    with open(os.path.join(tiny, "model.safetensors"), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    h = cfg["hidden_size"]
    rng = np.random.default_rng(SEED)
    extra = {"pooler.dense.weight": (h, h), "pooler.dense.bias": (h,),
             "classifier.weight": (1, h), "classifier.bias": (1,)}
    for name, shape in extra.items():
        a = (rng.standard_normal(shape) * 0.02).astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(shape),
                        "data_offsets": [len(data), len(data) + len(a)]}
        data += a
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + data)


def main():
    binary = os.environ["EMBP_BIN"]
    tiny = os.path.join(os.environ["EMBP_FIXTURES"], "tiny")
    max_examples = 4 if os.environ.get("EMBP_TEST_SANITIZER") else 10
    with tempfile.TemporaryDirectory() as work:
        check(binary, tiny, work, max_examples)
    print("PASS: /openapi.json validates and schemathesis finds no failure against it")


def check(binary, tiny, work, max_examples):
    rerank = os.path.join(work, "tiny-rerank")
    make_reranker(tiny, rerank)
    srv = Server(binary, f"{tiny},{rerank}", env={"EMB_PROVIDER_API_KEY": KEY},
                 flags=["--model-name", "tiny,tiny-rerank", "--max-batch-size", "8"])
    try:
        status, headers, raw = srv.request("GET", "/openapi.json")  # no key: an open route
        if status != 200 or not headers.get("Content-Type", "").startswith("application/json"):
            fail(f"GET /openapi.json without a key: {status} {headers.get('Content-Type')}")
        doc = json.loads(raw)
        openapi_spec_validator.validate(doc)  # raises, naming the place, if invalid
        print(f"openapi-spec-validator: the document ({len(raw)} bytes, "
              f"{sum(len(v) for v in doc['paths'].values())} operations) is valid OpenAPI "
              f"{doc['openapi']}")
        t0 = time.time()
        exe = os.path.join(os.path.dirname(sys.executable), "schemathesis")
        cmd = [exe, "run", f"http://127.0.0.1:{srv.port}/openapi.json",
               "--header", f"Authorization: Bearer {KEY}",
               "--checks", "all", "--exclude-checks", "positive_data_acceptance",
               "--max-examples", str(max_examples), "--seed", str(SEED),
               "--generation-deterministic",
               "--workers", "1", "--request-timeout", "30", "--no-color",
               "--suppress-health-check", "all", "--warnings", "off"]
        run = subprocess.run(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
        out = run.stdout
        if run.returncode != 0:
            print(out[-20000:])
            fail(f"schemathesis found failures (exit {run.returncode}); seed {SEED}, "
                 f"--max-examples {max_examples}: rerun {' '.join(cmd[:2])} ... to reproduce")
        summary = [line for line in out.splitlines() if "passed" in line or "cases" in line]
        print("\n".join(summary[-3:]))
        print(f"schemathesis: no failure in {time.time() - t0:.1f} s")
    finally:
        stop_ok(srv)  # drains, exits 0; a sanitizer report at exit fails it
    log = srv.text()
    for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        if bad in log:
            fail(f"the server's log has a sanitizer report:\n{log[-4000:]}")


if __name__ == "__main__":
    main()
