"""Assemble a varied byte corpus from text already installed on a machine (no network).

Sources are grouped in categories (Python sources, C/C++/CUDA headers, documentation and package
descriptions, man pages, licenses), each capped in bytes so that the most plentiful kind (Python
sources on a machine full of packages) does not crowd out the rest. Files are read in a fixed
(sorted) order, gzip-compressed files (man pages, Debian changelogs) are decompressed, byte-identical
files are kept once (many packages ship the same LICENSE), and a file whose path hash falls in
1/50 of the hash space is held out: never trained on, listed for trace prompts.

The manifest (`describe()`) records what was read per category: files, bytes, roots. It is the
corpus part of a trace's provenance.
"""
import glob
import gzip
import hashlib
import os
import random
import sys
import sysconfig
import time

# (category, roots (globs), file suffixes, byte cap in MiB)
CATEGORIES = [
    ("python", ["{stdlib}", "{purelib}", "/usr/lib/python3*", "/usr/local/lib/python3*"], (".py",), 200),
    ("c_cpp_cuda", ["/usr/include", "/usr/local/cuda*/include", "/usr/local/cuda*/targets/*/include",
                    "{purelib}/torch/include", "{purelib}/*/include"],
     (".h", ".hpp", ".cuh", ".hxx", ".inl", ".c", ".cc", ".cpp", ".cu"), 90),
    ("docs", ["/usr/share/doc", "{purelib}", "/usr/local/cuda*/doc", "/usr/share/info"],
     (".md", ".rst", ".txt", "README", "METADATA", "NEWS", "changelog.gz", "changelog.Debian.gz",
      ".info.gz", "NEWS.gz", "README.gz", ".md.gz", ".txt.gz"), 110),
    ("man_pages", ["/usr/share/man", "/usr/local/share/man", "/usr/local/cuda*/share/man"],
     (".gz", ".1", ".3", ".5", ".7", ".8"), 60),
    ("licenses", ["/usr/share/common-licenses", "/usr/share/doc", "{purelib}"],
     ("copyright", "LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING", "NOTICE", "LICENSE.rst"), 30),
]
MAX_FILE_BYTES = 4 << 20


def is_heldout(path):
    return int(hashlib.sha1(path.encode()).hexdigest(), 16) % 50 == 0


def expand(root):
    paths = sysconfig.get_paths()
    root = root.format(stdlib=paths["stdlib"], purelib=paths["purelib"])
    return sorted(p for p in glob.glob(root) if os.path.isdir(p))


def matches(name, suffixes, category):
    if category == "licenses":
        return any(name == s or name.startswith(s + ".") or name.startswith(s + "-") for s in suffixes)
    return name.endswith(suffixes)


def read_text(path):
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        return None
    if path.endswith(".gz"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return None
    if b"\0" in data[:4096]:     # binary file with a text-like name
        return None
    return data


class Corpus:
    def __init__(self):
        self.docs = []            # (category, path, bytes) of training documents
        self.heldout = []         # (category, path, size)
        self.stats = {}           # category -> dict(files, bytes, roots, duplicates)
        self.seconds = 0.0


def collect(scale=1.0, deadline_s=90.0, categories=CATEGORIES):
    """Reads every category up to scale * its cap; stops reading a category at the deadline share."""
    corpus, seen = Corpus(), set()
    start = time.time()
    for index, (category, roots, suffixes, cap_mib) in enumerate(categories):
        cap = int(cap_mib * scale * 2**20)
        stat = {"files": 0, "bytes": 0, "duplicates": 0, "roots": [], "capped": False}
        corpus.stats[category] = stat
        share_end = start + deadline_s * (index + 1) / len(categories)
        for root in [r for pattern in roots for r in expand(pattern)]:
            stat["roots"].append(root)
            for dirpath, dirnames, filenames in os.walk(root):
                dirnames.sort()
                for name in sorted(filenames):
                    if not matches(name, suffixes, category):
                        continue
                    path = os.path.join(dirpath, name)
                    if path in seen:
                        continue
                    seen.add(path)
                    try:
                        data = read_text(path)
                    except OSError:
                        continue
                    if not data or len(data) < 64:
                        continue
                    digest = hashlib.sha1(data).digest()
                    if digest in seen:
                        stat["duplicates"] += 1
                        continue
                    seen.add(digest)
                    if is_heldout(path):
                        corpus.heldout.append((category, path, len(data)))
                        continue
                    corpus.docs.append((category, path, data))
                    stat["files"] += 1
                    stat["bytes"] += len(data)
                    if stat["bytes"] >= cap or time.time() > share_end:
                        stat["capped"] = stat["bytes"] >= cap
                        break
                if stat["bytes"] >= cap or time.time() > share_end:
                    break
            if stat["bytes"] >= cap or time.time() > share_end:
                break
        print(f"corpus {category}: {stat['files']} files, {stat['bytes'] / 2**20:.1f} MiB, "
              f"{stat['duplicates']} duplicates skipped, {time.time() - start:.0f}s", file=sys.stderr, flush=True)
    corpus.seconds = time.time() - start
    return corpus


def concatenate(corpus, seed=0):
    """Documents in a seeded random order, separated by a blank line, as one bytes object."""
    order = list(range(len(corpus.docs)))
    random.Random(seed).shuffle(order)
    return b"\n\n".join(corpus.docs[i][2] for i in order)


def describe(corpus):
    total = sum(s["bytes"] for s in corpus.stats.values())
    return {"total_bytes": total, "categories": corpus.stats, "heldout_files": len(corpus.heldout),
            "seconds_to_read": round(corpus.seconds, 1)}
