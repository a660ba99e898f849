#!/usr/bin/env python3
"""Lists the longest C++ functions of the tree, longest first.

Usage: tools/longest_functions.py [--top N] [--max LINES] [--exclude DIR]... [ROOT]

A function is a brace block opened at namespace or class level after a closing parenthesis
(lambdas and nested blocks count toward the function around them). Its length is the number of
lines from the first line of its signature to its closing brace. Comments, string and character
literals are skipped so braces inside them do not count. With --max, exits 1 when a function is
longer (a check for CI); the default excludes kernels/ (CUDA kernels are long by nature), build
folders and third-party code.
"""
import argparse
import os
import re
import sys

SOURCE_EXTENSIONS = (".cc", ".cpp", ".h", ".cu", ".cuh")


def strip(text):
    """Returns text with comments and literals replaced by spaces (newlines kept)."""
    # Preprocessor lines (with their continuations) are blanked first: `#include <x>` has no `;`.
    text = re.sub(r"(?m)^[ \t]*#(?:[^\n]*\\\n)*[^\n]*", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == 'R' and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == '_')):
            open_paren = text.find("(", i + 2)
            delim = text[i + 2:open_paren]
            close = text.find(")" + delim + '"', open_paren)
            j = n if close < 0 else close + len(delim) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():  # digit separator: 1'000
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(path):
    """Yields (name, first_line, length) for each function defined in the file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = strip(f.read())
    stack = []  # entries: ("scope"|"function"|"block", start_line, name)
    head_start = 0  # offset where the text before the next brace begins
    line = 1
    line_at = [0] * (len(text) + 1)
    for i, c in enumerate(text):
        line_at[i] = line
        if c == "\n":
            line += 1
    line_at[len(text)] = line
    for i, c in enumerate(text):
        if c == "{":
            head = text[head_start:i]
            in_scope = all(kind == "scope" for kind, _, _ in stack)
            stripped = head.strip()
            if not in_scope:
                stack.append(("block", 0, ""))
            elif re.search(r"\b(namespace|class|struct|union|enum)\b[^()]*$", stripped) or stripped.startswith("extern"):
                stack.append(("scope", 0, ""))
            elif ")" in stripped:
                offset = head_start + (len(head) - len(head.lstrip()))
                match = re.search(r"([~\w:]+(?:operator\S*)?)\s*\(", stripped)
                stack.append(("function", line_at[offset], match.group(1) if match else "?"))
            else:
                stack.append(("block", 0, ""))  # an initializer such as `x = {`
            head_start = i + 1
        elif c == "}":
            if stack:
                kind, start, name = stack.pop()
                if kind == "function":
                    yield name, start, line_at[i] - start + 1
            head_start = i + 1
        elif c == ";" and all(kind == "scope" for kind, _, _ in stack):
            head_start = i + 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=".")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--max", type=int, default=0, help="exit 1 when a function is longer")
    parser.add_argument("--exclude", action="append", default=["kernels"])
    args = parser.parse_args()
    skip = set(args.exclude) | {".git"}
    found = []
    for dirpath, dirnames, filenames in os.walk(args.root):
        rel = os.path.relpath(dirpath, args.root)
        dirnames[:] = sorted(d for d in dirnames
                             if d not in skip and not d.startswith("build") and os.path.join(rel, d).lstrip("./") not in skip)
        for name in sorted(filenames):
            if name.endswith(SOURCE_EXTENSIONS):
                path = os.path.join(dirpath, name)
                for function, start, length in functions(path):
                    found.append((length, os.path.relpath(path, args.root), start, function))
    found.sort(key=lambda f: (-f[0], f[1], f[2]))
    for length, path, start, function in found[:args.top]:
        print(f"{length:5d}  {path}:{start}  {function}")
    if args.max and found and found[0][0] > args.max:
        print(f"longest_functions: {sum(1 for f in found if f[0] > args.max)} functions longer than {args.max} lines", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
