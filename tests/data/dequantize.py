#!/usr/bin/env python3
"""Reads a folder written by `embp quantize` as docs/QUANTIZED_FORMAT.md describes it, with
numpy only (no embp code), and writes a plain fp32 Hugging Face folder: the test's independent
reader of the format.  usage: dequantize.py QUANTIZED_DIR OUT_DIR"""
import json, os, shutil, struct, sys
import numpy as np

src, dst = sys.argv[1], sys.argv[2]
with open(os.path.join(src, "model.safetensors"), "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
    data = f.read()
meta = header.pop("__metadata__", {})
assert meta.get("embp.format") == "embp-quantized-1", meta

def raw(name):
    h = header[name]
    b, e = h["data_offsets"]
    return h, data[b:e]

def as_f32(name):
    h, buf = raw(name)
    shape, dt = h["shape"], h["dtype"]
    if dt == "F32":
        return np.frombuffer(buf, "<f4").reshape(shape).copy()
    if dt == "F16":
        return np.frombuffer(buf, "<f2").astype(np.float32).reshape(shape)
    if dt == "BF16":
        return (np.frombuffer(buf, "<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    if dt == "I8":   # per row: W[n, k] = q[n, k] * scale[n]
        q = np.frombuffer(buf, np.int8).reshape(shape).astype(np.float32)
        return q * as_f32(name + "_scale")[:, None]
    if dt == "U8":   # int4: byte i of a row holds k = 2i (low nibble) and 2i + 1 (high), q + 8
        b = np.frombuffer(buf, np.uint8).reshape(shape)
        N, K = shape[0], shape[1] * 2
        q = np.empty((N, K), np.float32)
        q[:, 0::2] = (b & 15).astype(np.float32) - 8
        q[:, 1::2] = (b >> 4).astype(np.float32) - 8
        s = as_f32(name + "_scale")           # (N, K / g), fp16 in the file
        g = K // s.shape[1]
        assert str(g) == meta["embp.group_size"], (g, meta)
        return q * np.repeat(s, g, axis=1)
    raise SystemExit("unexpected dtype %s of %s" % (dt, name))

tensors, kinds = {}, {}
for name, h in header.items():
    if name.endswith("_scale") and name[:-6] in header:
        continue
    kinds[h["dtype"]] = kinds.get(h["dtype"], 0) + 1
    tensors[name] = as_f32(name) if h["dtype"] in ("F32", "F16", "BF16", "I8", "U8") else None

os.makedirs(dst, exist_ok=True)
for entry in os.listdir(src):
    if entry in ("model.safetensors", "embp_quantize.json"):
        continue
    p = os.path.join(src, entry)
    (shutil.copytree if os.path.isdir(p) else shutil.copy)(p, os.path.join(dst, entry))
hdr, blobs, off = {}, [], 0
for name, t in tensors.items():
    if t is None:
        h, buf = raw(name)
        hdr[name] = {"dtype": h["dtype"], "shape": h["shape"], "data_offsets": [off, off + len(buf)]}
    else:
        buf = np.ascontiguousarray(t, "<f4").tobytes()
        hdr[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(buf)]}
    blobs.append(buf)
    off += len(buf)
hb = json.dumps(hdr).encode()
hb += b" " * (-len(hb) % 8)
with open(os.path.join(dst, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(hb)))
    f.write(hb)
    for b in blobs:
        f.write(b)
print("dequantized %s (%s) -> %s" % (src, ", ".join("%d %s" % (v, k) for k, v in sorted(kinds.items())), dst))
