#!/usr/bin/env python3
"""A small fake Hugging Face Hub on loopback for tests/test_pull.sh: serves one model folder as
repo ORG/NAME with the routes and headers huggingface_hub's hf_api.py and file_download.py use:

  GET  /api/models/ORG/NAME/revision/REV   {"id", "sha", "siblings": [{"rfilename"}]}
  GET  /api/models/ORG/NAME/tree/REV[/DIR]?recursive=...   the listing huggingface_hub 1.x+
       reads ({"type", "oid", "size", "path", "lfs": {"oid", "size", "pointerSize"}})
  HEAD|GET /ORG/NAME/resolve/REV/PATH      small files: 200, ETag = git blob sha1;
       LFS files (*.safetensors): 302 to http://localhost:PORT/cdn-lfs/<sha256> (another
       origin, as the Hub's CDN is), with X-Linked-Etag
       (sha256) and X-Linked-Size; X-Repo-Commit on both
  GET  /cdn-lfs/<sha256>                   the bytes, with Range (206 + Content-Range)

Faults, for the tests: --cut-after N [--cut-times K] (the first K /cdn-lfs bodies stop after
N bytes and the connection closes), --corrupt (every /cdn-lfs body has one byte flipped; the headers still
announce the true sha256), --token T (no "Authorization: Bearer T": 401 GatedRepo),
--slow-ms MS (/cdn-lfs bodies go 16 KiB at a time, MS apart).
Every request is appended to --log as "METHOD PATH RANGE auth|noauth". Writes its port to --port-file.
The errors mimic the Hub's: 404 with X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound.
"""
import argparse
import hashlib
import json
import os
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LFS_SUFFIXES = (".safetensors", ".bin", ".onnx", ".msgpack", ".h5")


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, root, repo_id):
        self.repo_id = repo_id
        self.files = {}  # path -> bytes
        for d, _, names in os.walk(root):
            for n in names:
                full = os.path.join(d, n)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                with open(full, "rb") as f:
                    self.files[rel] = f.read()
        h = hashlib.sha1()
        for p in sorted(self.files):
            h.update(p.encode() + b"\0" + hashlib.sha256(self.files[p]).digest())
        self.sha = h.hexdigest()
        self.by_sha256 = {hashlib.sha256(b).hexdigest(): b for b in self.files.values()}

    def is_lfs(self, path):
        return path.endswith(LFS_SUFFIXES)

    def pointer(self, data):  # the git-lfs pointer file the repo's git tree holds
        return ("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n"
                % (hashlib.sha256(data).hexdigest(), len(data))).encode()


def make_handler(repo, args, state):
    org_name = repo.repo_id

    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def record(self):
            with state["lock"]:
                with open(args.log, "a") as f:
                    rng = self.headers.get("Range", "-")
                    auth = "auth" if self.headers.get("Authorization") else "noauth"
                    f.write("%s %s %s %s\n" % (self.command, self.path, rng, auth))

        def send(self, code, body=b"", headers=None, head=False):
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

        def error(self, code, ec, msg, head=False):
            body = json.dumps({"error": msg}).encode()
            self.send(code, body, {"X-Error-Code": ec, "X-Error-Message": msg,
                                   "Content-Type": "application/json"}, head)

        def authorized(self, head):
            if args.token and self.headers.get("Authorization") != "Bearer " + args.token:
                self.error(401, "GatedRepo", "Access to model %s is restricted." % org_name, head)
                return False
            return True

        def revision_ok(self, rev, head):
            if rev not in ("main", repo.sha):
                self.error(404, "RevisionNotFound", "Invalid rev id: " + rev, head)
                return False
            return True

        def do_HEAD(self):
            self.handle_any(head=True)

        def do_GET(self):
            self.handle_any(head=False)

        def handle_any(self, head):
            self.record()
            url = urllib.parse.urlsplit(self.path)
            path = urllib.parse.unquote(url.path)
            api = "/api/models/" + org_name + "/"
            if path.startswith("/api/models/") and not path.startswith(api):
                return self.error(404, "RepoNotFound", "Repository not found", head)
            if path.startswith(api + "revision/"):
                if not self.authorized(head):
                    return
                rev = path[len(api + "revision/"):]
                if not self.revision_ok(rev, head):
                    return
                body = json.dumps({"id": org_name, "modelId": org_name, "sha": repo.sha,
                                   "private": False, "siblings": [{"rfilename": p} for p in
                                                                  sorted(repo.files)]}).encode()
                return self.send(200, body, {"Content-Type": "application/json"}, head)
            if path.startswith(api + "tree/"):
                if not self.authorized(head):
                    return
                rest = path[len(api + "tree/"):]
                rev, _, sub = rest.partition("/")
                if not self.revision_ok(rev, head):
                    return
                return self.send(200, json.dumps(self.tree(sub)).encode(),
                                 {"Content-Type": "application/json"}, head)
            if path.startswith("/cdn-lfs/"):
                return self.cdn(path[len("/cdn-lfs/"):], head)
            prefix = "/" + org_name + "/resolve/"
            if not path.startswith(prefix):
                return self.error(404, "RepoNotFound", "Repository not found", head)
            if not self.authorized(head):
                return
            rev, _, fpath = path[len(prefix):].partition("/")
            if not self.revision_ok(rev, head):
                return
            if fpath not in repo.files:
                return self.error(404, "EntryNotFound", "Entry not found", head)
            data = repo.files[fpath]
            common = {"X-Repo-Commit": repo.sha}
            if repo.is_lfs(fpath):
                sha = hashlib.sha256(data).hexdigest()
                # Another origin, as the Hub's CDN is: clients stop there and read these headers.
                common.update({"Location": "http://localhost:%d/cdn-lfs/%s" % (args.port, sha),
                               "X-Linked-Etag": '"%s"' % sha, "X-Linked-Size": str(len(data)),
                               "ETag": '"%s"' % git_blob_sha1(repo.pointer(data))})
                return self.send(302, b"", common, head)
            common["ETag"] = '"%s"' % git_blob_sha1(data)
            return self.send(200, data, common, head)

        def tree(self, sub):
            out, seen = [], set()
            for p in sorted(repo.files):
                if sub and not p.startswith(sub + "/"):
                    continue
                parts = p.split("/")
                for i in range(1, len(parts)):
                    d = "/".join(parts[:i])
                    if d not in seen and (not sub or d.startswith(sub + "/")):
                        seen.add(d)
                        out.append({"type": "directory", "oid": "0" * 40, "path": d})
                data = repo.files[p]
                e = {"type": "file", "size": len(data), "path": p}
                if repo.is_lfs(p):
                    ptr = repo.pointer(data)
                    e["oid"] = git_blob_sha1(ptr)
                    e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                                "pointerSize": len(ptr)}
                else:
                    e["oid"] = git_blob_sha1(data)
                out.append(e)
            return out

        def cdn(self, sha, head):
            data = repo.by_sha256.get(sha)
            if data is None:
                return self.send(404, b"not found", {}, head)
            if args.corrupt:
                data = bytes([data[0] ^ 0xFF]) + data[1:]
            start, code, headers = 0, 200, {"ETag": '"%s"' % sha, "Accept-Ranges": "bytes"}
            rng = self.headers.get("Range")
            if rng and rng.startswith("bytes="):
                start = int(rng[6:].split("-")[0])
                if start >= len(data):
                    return self.send(416, b"", {"Content-Range": "bytes */%d" % len(data)}, head)
                code = 206
                headers["Content-Range"] = "bytes %d-%d/%d" % (start, len(data) - 1, len(data))
            body = data[start:]
            cut = None
            with state["lock"]:
                if args.cut_after and state["cuts"] < args.cut_times and not head:
                    state["cuts"] += 1
                    cut = args.cut_after
            if cut is None and not args.slow_ms:
                return self.send(code, body, headers, head)
            # Announce the whole body, send part of it (--cut-after), then drop the connection.
            self.send_response(code)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if head:
                return
            if cut is None:  # --slow-ms: 16 KiB at a time, so concurrent clients overlap
                for i in range(0, len(body), 16384):
                    self.wfile.write(body[i:i + 16384])
                    self.wfile.flush()
                    time.sleep(args.slow_ms / 1000)
                return
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)

    return H


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--cut-after", type=int, default=0)
    ap.add_argument("--cut-times", type=int, default=1)
    ap.add_argument("--corrupt", action="store_true")
    ap.add_argument("--token", default="")
    ap.add_argument("--slow-ms", type=int, default=0)
    args = ap.parse_args()
    repo = Repo(args.root, args.repo)
    state = {"lock": threading.Lock(), "cuts": 0}
    srv = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(repo, args, state))
    srv.handle_error = lambda request, client_address: None  # a client hanging up is expected
    args.port = srv.server_address[1]
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
