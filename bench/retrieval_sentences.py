#!/usr/bin/python3
"""Prints the retrieval set of bench/fidelity.py: 2,500 real sentences, one a line, written by
people for people and not for this bench, drawn deterministically from text every Debian machine
carries:
  - the Python Language Reference and library topics that ship with CPython as
    /usr/lib/python3.X/pydoc_data/topics.py (`help()`'s text; Debian's libpython3.X-stdlib);
  - the docstrings of the standard library's top-level modules, /usr/lib/python3.X/*.py (their
    modules', classes' and functions' documentation);
  - the license texts in /usr/share/common-licenses (base-files: GPL, LGPL, Apache, MPL, GFDL,
    Artistic, CC0, BSD).
Paragraphs are joined, code blocks dropped, sentences split at ". ", "? ", "! " before a capital,
kept when 40..300 characters, at least 6 words and mostly letters, de-duplicated, then ordered by
their SHA-1 and the first 2,500 taken (the same list on every machine with the same Python).
Run: /usr/bin/python3 bench/retrieval_sentences.py [N] > sentences.txt"""
import ast
import glob
import hashlib
import os
import re
import runpy
import sys


def paragraphs(text):
    for block in re.split(r"\n\s*\n", text):
        lines = block.split("\n")
        # Code, grammar and tables are indented or full of symbols: prose lines are not.
        if all(line.startswith("   ") for line in lines if line.strip()) and \
                any(line.startswith("     ") for line in lines):
            continue
        yield " ".join(line.strip() for line in lines)


def sentences(text):
    for p in paragraphs(text):
        for s in re.split(r"(?<=[.?!])\s+(?=[A-Z\"(])", p):
            s = " ".join(s.split())
            words = s.split()
            letters = sum(c.isalpha() for c in s)
            if 40 <= len(s) <= 300 and len(words) >= 6 and letters >= 0.7 * len(s) and \
                    not s.startswith(("*", "=", "-", "|")):
                yield s


def sources():
    topics = sorted(glob.glob("/usr/lib/python3*/pydoc_data/topics.py"))
    if topics:
        t = runpy.run_path(topics[-1])["topics"]
        for key in sorted(t):
            yield topics[-1], t[key]
        for path in sorted(glob.glob(os.path.join(os.path.dirname(topics[-1]), "..", "*.py"))):
            try:
                with open(path, encoding="utf-8") as f:
                    tree = ast.parse(f.read())
            except (SyntaxError, UnicodeDecodeError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                     ast.AsyncFunctionDef)):
                    doc = ast.get_docstring(node)
                    if doc:
                        yield path, doc
    for path in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                yield path, f.read()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2500
    seen, pool = set(), []
    for _, text in sources():
        for s in sentences(text):
            if s not in seen:
                seen.add(s)
                pool.append(s)
    pool.sort(key=lambda s: hashlib.sha1(s.encode()).hexdigest())
    if len(pool) < n:
        sys.exit("only %d sentences found" % len(pool))
    for s in pool[:n]:
        print(s)


if __name__ == "__main__":
    main()
