#!/usr/bin/env bash
# embp pull and --model ORG/NAME against a fake Hugging Face Hub on loopback (tests/fake_hub.py
# serving the tiny fixture plus files embp must skip: pytorch_model.bin, onnx/model.onnx).
# The layout is checked by huggingface_hub itself (from PyPI, not embp code): its
# snapshot_download(local_files_only=True) and hf_hub_download find the cache embp wrote, its
# scan_cache_dir reports no problem, every file is byte-identical to the served one, and its own
# snapshot_download from the same fake Hub writes the very same tree (blob names, sizes, symlink
# targets, refs). Then: a connection cut mid-file resumes with a Range request (within the
# pull, and on the next one); a corrupted
# blob is refused with no snapshot entry; HF_HUB_OFFLINE=1 sends no request; 401 / 404 / no
# network / bad id / disk full give their messages; serve and embed --model ORG/NAME pull when
# absent and give the vectors of the folder itself.
#
# huggingface_hub comes from build/venv when it has it (scripts/setup-test.sh), else from a
# small venv this test makes once: build/venv-hub (pip install huggingface_hub, no torch).
# No venv and no PyPI: exit 77 (skipped), never a pass.
. "$(dirname "$0")/lib.sh"
fixtures=${EMBP_FIXTURES:?}
build=$(dirname "$fixtures")
work=$(mktemp -d); hub_pid=""
cleanup() { [ -n "$hub_pid" ] && kill "$hub_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

PY=""
for v in "$build/venv" "$build/venv-hub"; do
  if "$v/bin/python" -c "import huggingface_hub" 2>/dev/null; then PY=$v/bin/python; break; fi
done
if [ -z "$PY" ]; then
  if python3 -m venv "$build/venv-hub" >/dev/null && "$build/venv-hub/bin/pip" install -q huggingface_hub >/dev/null; then
    PY=$build/venv-hub/bin/python
  else
    echo "SKIP: no venv with huggingface_hub and pip could not install it"; exit 77
  fi
fi
echo "huggingface_hub $("$PY" -c 'import huggingface_hub as h; print(h.__version__)') from $PY"
export HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1
unset HF_TOKEN HF_HUB_OFFLINE HF_HUB_CACHE HF_ENDPOINT XDG_CACHE_HOME EMB_PROVIDER_MODEL_PATH EMB_PROVIDER_MODEL_NAME

served=$work/served; repo=acme/tiny-model
cp -a "$fixtures/tiny" "$served"
head -c 5000 /dev/urandom > "$served/pytorch_model.bin"
head -c 300 /dev/urandom > "$served/1_Pooling/pytorch_model.bin"
log=$work/requests.log; : > "$log"

start_hub() { # [fake_hub flags...]
  [ -n "$hub_pid" ] && { kill "$hub_pid"; wait "$hub_pid" 2>/dev/null || true; }
  rm -f "$work/port"
  /usr/bin/python3 "$src/tests/fake_hub.py" --root "$served" --repo $repo --port-file "$work/port" --log "$log" "$@" &
  hub_pid=$!
  for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
  [ -s "$work/port" ] || fail "the fake hub did not start"
  export HF_ENDPOINT=http://127.0.0.1:$(cat "$work/port")
}
requests() { wc -l < "$log"; }
pull() { # cache_home spec... -> stdout in $work/out, stderr in $work/err, status in $rc
  local home=$1; shift
  rc=0; HF_HOME=$home timeout 60 "$bin" pull "$@" > "$work/out" 2> "$work/err" || rc=$?
}
expect_fail() { # expected_rc message_part...
  [ "$rc" = "$1" ] || { cat "$work/err"; fail "exit $rc, expected $1"; }
  shift
  for m in "$@"; do grep -qF -- "$m" "$work/err" || { cat "$work/err"; fail "message lacks '$m'"; }; done
  echo "ok: $(tail -1 "$work/err")"
}

# ---------------------------------------------------------------- a pull, checked by huggingface_hub
start_hub
pull "$work/hf" $repo
[ "$rc" = 0 ] || { cat "$work/err"; fail "pull exited $rc"; }
cat "$work/err"
snap=$(cat "$work/out")
"$PY" - "$work/hf/hub" "$repo" "$snap" "$served" <<'PY'
import filecmp, os, sys
from huggingface_hub import hf_hub_download, scan_cache_dir, snapshot_download
cache, repo, snap, served = sys.argv[1:]
got = snapshot_download(repo, local_files_only=True, cache_dir=cache)
assert os.path.realpath(got) == os.path.realpath(snap), (got, snap)
want = ["config.json", "tokenizer.json", "tokenizer_config.json", "vocab.txt", "modules.json",
        "sentence_bert_config.json", "model.safetensors", "1_Pooling/config.json"]
for f in want:
    p = hf_hub_download(repo, f, local_files_only=True, cache_dir=cache)
    assert filecmp.cmp(p, os.path.join(served, f), shallow=False), "%s differs from the served file" % f
files = sorted(os.path.relpath(os.path.join(d, n), snap) for d, _, ns in os.walk(snap) for n in ns)
assert files == sorted(want), "snapshot holds %s, expected %s" % (files, sorted(want))
info = scan_cache_dir(cache)
assert not info.warnings, info.warnings
(r,) = info.repos
(rev,) = r.revisions
assert r.repo_id == repo and rev.refs == frozenset({"main"}) and len(rev.files) == len(want), (r, rev)
blobs = os.listdir(os.path.join(cache, "models--acme--tiny-model", "blobs"))
assert not [b for b in blobs if b.endswith(".incomplete")], blobs
print("huggingface_hub finds the cache: %d files byte-identical, refs/main -> %s, no warnings"
      % (len(want), os.path.basename(snap)))
PY
# huggingface_hub's own download of the same files from the same fake Hub: the same tree.
"$PY" - "$work/hf-py" "$repo" "$snap" <<'PY'
import os, sys
from huggingface_hub import snapshot_download
cache, repo, snap = sys.argv[1:]
files = [os.path.relpath(os.path.join(d, n), snap) for d, _, ns in os.walk(snap) for n in ns]
snapshot_download(repo, cache_dir=cache, allow_patterns=files)
PY
tree() { (cd "$1" && find . -path ./.locks -prune -o -path '*/trees' -prune -o -name CACHEDIR.TAG -o \( -type l -printf '%p -> %l\n' -o -type f -printf '%p %s\n' \) -print | grep -v -e '^\./\.locks$' -e '/trees$' -e CACHEDIR.TAG | sort); }
diff <(tree "$work/hf/hub") <(tree "$work/hf-py") || fail "embp's cache differs from huggingface_hub's"
echo "ok: the same tree as huggingface_hub's own snapshot_download ($(tree "$work/hf-py" | wc -l) entries)"

# A second pull asks for the listing only: every file is already there.
n0=$(requests); pull "$work/hf" $repo
[ "$rc" = 0 ] && [ "$(cat "$work/out")" = "$snap" ] || fail "second pull: exit $rc, $(cat "$work/out")"
[ "$(( $(requests) - n0 ))" = 1 ] || fail "second pull sent $(( $(requests) - n0 )) requests, expected 1 (the listing)"
echo "ok: a second pull sends one request (the listing) and downloads nothing"

# ---------------------------------------------------------------- offline
n0=$(requests)
HF_HUB_OFFLINE=1 pull "$work/hf" $repo
[ "$rc" = 0 ] && [ "$(cat "$work/out")" = "$snap" ] || fail "offline pull of a cached model: exit $rc"
HF_HUB_OFFLINE=1 pull "$work/hf-empty" $repo
expect_fail 1 "not in the cache" "HF_HUB_OFFLINE" "EMB_PROVIDER_MODEL_PATH"
HF_HOME=$work/hf HF_HUB_OFFLINE=1 "$bin" embed --model $repo --text "offline" > /dev/null 2> "$work/err" ||
  { cat "$work/err"; fail "offline embed --model of a cached model"; }
[ "$(requests)" = "$n0" ] || fail "HF_HUB_OFFLINE=1 sent $(( $(requests) - n0 )) requests"
echo "ok: HF_HUB_OFFLINE=1 sent no request"

# ---------------------------------------------------------------- embed and serve --model ORG/NAME
texts=("the cat sat on the mat" "Résumé: 3 naïve cafés" "x")
args=(); for t in "${texts[@]}"; do args+=(--text "$t"); done
HF_HOME=$work/hf "$bin" embed --model $repo "${args[@]}" > "$work/hub.jsonl" 2> "$work/err" || { cat "$work/err"; fail "embed --model $repo"; }
"$bin" embed --model "$served" "${args[@]}" > "$work/dir.jsonl" 2> /dev/null || fail "embed of the served folder"
cmp -s "$work/hub.jsonl" "$work/dir.jsonl" || fail "embed --model $repo differs from embedding the folder"
echo "ok: embed --model $repo gives the folder's vectors ($(wc -l < "$work/hub.jsonl") texts)"
name() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['name'])"; }
[ "$(HF_HOME=$work/hf "$bin" info --model $repo --json | name)" = tiny-model ] || fail "info: the id is not NAME"
[ "$(HF_HOME=$work/hf EMB_PROVIDER_MODEL_NAME=mini "$bin" info --model $repo --json | name)" = mini ] ||
  fail "EMB_PROVIDER_MODEL_NAME does not name a Hub model"
echo "ok: a Hub model is named NAME (tiny-model), or as EMB_PROVIDER_MODEL_NAME says"
# serve with an empty cache: pulls first, then serves the model as NAME
port=$(fixed_port)
HF_HOME=$work/hf-serve "$bin" serve --model $repo --host 127.0.0.1 --port $port > "$work/serve.log" 2>&1 & spid=$!
for _ in $(seq 200); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/v1/models" > "$work/models.json" || { kill $spid; cat "$work/serve.log"; fail "serve --model $repo"; }
curl -sf -H 'Content-Type: application/json' -d '{"model":"tiny-model","input":["the cat sat on the mat","x"]}' \
  "http://127.0.0.1:$port/v1/embeddings" > "$work/served.json" || { kill $spid; cat "$work/serve.log"; fail "POST /v1/embeddings"; }
kill $spid; wait $spid 2>/dev/null || true
grep -q "pulling it from" "$work/serve.log" || { cat "$work/serve.log"; fail "serve did not say it pulls"; }
/usr/bin/python3 - "$work/models.json" "$work/served.json" "$work/dir.jsonl" <<'PY'
import json, sys
models = json.load(open(sys.argv[1]))
ids = [m["id"] for m in models["data"]]
assert ids == ["tiny-model"], ids
got = [d["embedding"] for d in json.load(open(sys.argv[2]))["data"]]
ref = [json.loads(l)["embedding"] for l in open(sys.argv[3])]
for g, r in zip(got, [ref[0], ref[2]]):
    d = max(abs(a - b) for a, b in zip(g, r))
    assert d <= 1e-6, "served vector differs from the folder's by %g" % d
print("ok: serve --model pulled into an empty cache, serves id %s, vectors equal the folder's" % ids[0])
PY

# A cache huggingface_hub started (one file, and its refs/main): --model completes it and
# uses the file Python fetched (its snapshot entry is there: no request for it).
"$PY" -c "import sys; from huggingface_hub import hf_hub_download as d; d(sys.argv[1], 'config.json', cache_dir=sys.argv[2])" $repo "$work/hf-mixed/hub"
n0=$(requests)
HF_HOME=$work/hf-mixed "$bin" embed --model $repo "${args[@]}" > "$work/mixed.jsonl" 2> "$work/err" || { cat "$work/err"; fail "embed --model over a partial cache"; }
cmp -s "$work/mixed.jsonl" "$work/dir.jsonl" || fail "embed over the completed cache differs"
tail -n +$((n0 + 1)) "$log" | grep -q "^GET /$repo/resolve/[0-9a-f]*/config.json" && fail "config.json was fetched again"
echo "ok: --model completes a cache huggingface_hub started, reusing its config.json blob"

# ---------------------------------------------------------------- a connection cut mid-file resumes
# Within a pull: a cut after 100000 bytes is resumed at once (Range: bytes=100000-), twice at
# most. The fake Hub cuts three times, so the first pull gives up with 300000 bytes kept in
# the .incomplete file, no snapshot entry and no ref; the next pull resumes from there.
start_hub --cut-after 100000 --cut-times 3
pull "$work/hf-cut" $repo
expect_fail 1 "model.safetensors" "broke after 300000 of 359376" "run the same command again"
for b in 100000 200000; do
  grep -q "cdn-lfs/.* bytes=$b- " "$log" || fail "the first pull did not resume from byte $b"
done
rdir=$work/hf-cut/hub/models--acme--tiny-model
part=$(ls "$rdir"/blobs/*.incomplete)
[ "$(stat -c %s "$part")" = 300000 ] || fail "the partial file has $(stat -c %s "$part") bytes, expected 300000"
[ ! -e "$rdir/refs/main" ] && [ ! -e "$(ls -d "$rdir"/snapshots/*)/model.safetensors" ] || fail "a cut download made a snapshot entry or a ref"
pull "$work/hf-cut" $repo
[ "$rc" = 0 ] || { cat "$work/err"; fail "the pull after the cut exited $rc"; }
grep -q "cdn-lfs/.* bytes=300000- " "$log" || fail "the second pull did not resume with Range: bytes=300000-"
cmp "$(cat "$work/out")/model.safetensors" "$served/model.safetensors" || fail "resumed file differs"
echo "ok: resumed within the pull (bytes=100000-, 200000-) and on the next (bytes=300000-); byte-identical"

# ---------------------------------------------------------------- two pulls at once share the work
# They take turns on huggingface_hub's lock files (.locks/.../<etag>.lock): each blob is
# fetched once, and neither appends to the other's .incomplete file.
start_hub --slow-ms 30
n0=$(requests)
HF_HOME=$work/hf-two timeout 60 "$bin" pull $repo > "$work/out1" 2> "$work/err1" & p1=$!
HF_HOME=$work/hf-two timeout 60 "$bin" pull $repo > "$work/out2" 2> "$work/err2" & p2=$!
wait $p1 || { cat "$work/err1"; fail "the first of two concurrent pulls failed"; }
wait $p2 || { cat "$work/err2"; fail "the second of two concurrent pulls failed"; }
cmp "$(cat "$work/out1")/model.safetensors" "$served/model.safetensors" || fail "concurrent pulls: file differs"
gets=$(tail -n +$((n0 + 1)) "$log" | grep -c "^GET /cdn-lfs/" || true)
[ "$gets" = 1 ] || fail "two concurrent pulls fetched model.safetensors $gets times"
echo "ok: two pulls at once: one download of model.safetensors, both succeed$(grep -h waiting "$work/err1" "$work/err2" | head -1 | sed 's/^/ (/;s/$/)/')"

# ---------------------------------------------------------------- a corrupted blob is refused
start_hub --corrupt
pull "$work/hf-bad" $repo
expect_fail 1 "model.safetensors" "sha256" "made no snapshot entry"
rdir=$work/hf-bad/hub/models--acme--tiny-model
sha=$(sha256sum "$served/model.safetensors" | cut -d' ' -f1)
[ ! -e "$rdir/blobs/$sha" ] && [ ! -e "$rdir/blobs/$sha.incomplete" ] || fail "the corrupt bytes were kept"
[ ! -e "$rdir/refs/main" ] && ! ls "$rdir"/snapshots/*/model.safetensors 2> /dev/null || fail "a snapshot entry for the corrupt file"
echo "ok: no blob, no .incomplete, no snapshot entry, no ref"

# ---------------------------------------------------------------- errors
start_hub --token s3cret
pull "$work/hf-401" $repo
expect_fail 1 "gated" "HTTP 401" "set HF_TOKEN"
HF_TOKEN=wrong pull "$work/hf-401" $repo
expect_fail 1 "HF_TOKEN given was refused"
HF_TOKEN=s3cret pull "$work/hf-401" $repo
[ "$rc" = 0 ] || { cat "$work/err"; fail "pull with the right HF_TOKEN exited $rc"; }
# The token goes to the Hub, never to the CDN (another origin, a signed URL in real life).
n_cdn=$(grep -c "^GET /cdn-lfs/.* auth$" "$log" || true)
[ "$n_cdn" = 0 ] || fail "HF_TOKEN was sent to the CDN $n_cdn times"
grep -q "^HEAD /$repo/resolve/.* auth$" "$log" || fail "HF_TOKEN was not sent to the Hub"
echo "ok: HF_TOKEN goes to the Hub's /api and /resolve, not to the CDN"
start_hub
pull "$work/hf-404" acme/no-such-model
expect_fail 1 "acme/no-such-model not found" "HTTP 404"
pull "$work/hf-404" $repo@v9
expect_fail 1 "revision 'v9' not found in acme/tiny-model"
pull "$work/hf-404" not-an-id
expect_fail 2 "'not-an-id' is not a Hub model id" "ORG/NAME[@REVISION]"
pull "$work/hf-404" "acme/../etc"
expect_fail 2 "is not a Hub model id"
closed=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start=$(date +%s)
HF_ENDPOINT=http://127.0.0.1:$closed pull "$work/hf-net" $repo
expect_fail 1 "cannot reach http://127.0.0.1:$closed" "EMB_PROVIDER_MODEL_PATH"
[ $(( $(date +%s) - start )) -lt 30 ] || fail "no network took more than 30 s"
HF_HOME=$work/hf-net HF_ENDPOINT=http://127.0.0.1:$closed "$bin" serve --model $repo --port 0 > "$work/out" 2> "$work/err" && fail "serve without network started"
grep -q "model acme/tiny-model (no such folder; as a Hub id): cannot reach" "$work/err" || { cat "$work/err"; fail "serve's message"; }
# Disk full: a file size limit makes write() fail (EFBIG) as a full disk would (ENOSPC).
rc=0; (ulimit -f 200; trap '' XFSZ; HF_HOME=$work/hf-full exec timeout 60 "$bin" pull $repo) > "$work/out" 2> "$work/err" || rc=$?
expect_fail 1 "disk full writing" "model.safetensors" "HF_HOME"
echo "PASS"
