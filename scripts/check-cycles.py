#!/usr/bin/env python3
"""Import cycles between the files of a crate.

For every crate under crates/ and each of its targets (the library, the binaries, every test binary under
tests/), this builds a graph of files: an edge a.rs -> b.rs when a.rs names, in a `use` declaration or in a
`crate::`/`super::`/`self::` path written inline in code, an item that b.rs defines. A path is resolved
through the module tree (`mod x;` -> x.rs or x/mod.rs, `#[path = "..."]`, inline `mod x { ... }`) to the
module it names; when it names an item that the module only re-exports (`pub use`), it is followed to the
file that defines the item (found by a regex on `struct|enum|trait|fn|const|type|static|mod|...`). Not
edges: `mod child;` declarations, `pub use` re-export lines themselves, a file naming itself.

A cycle is a strongly connected component of more than one file. Each is printed as a chain with the line
that makes each hop; the exit code is then 1. Without cycles it prints a one-line summary and exits 0.

  scripts/check-cycles.py              the crates, minus the exclusions below
  scripts/check-cycles.py --all        every crate, the excluded ones too
  scripts/check-cycles.py --self-test  the parser's and resolver's own tests

Python 3 standard library only. It reads files as text; a macro that writes paths is not seen.
"""

import os
import re
import sys

# Crates the check skips unless --all is given (none: every crate is free of cycles).
EXCLUDED: set = set()

ROOT_FILES = ("lib.rs", "main.rs", "mod.rs")


# --- lexing -------------------------------------------------------------------------------------------------


def strip(text):
    """The text with comments, string and char literals blanked (same length, newlines kept)."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a, b):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif (c == "r" or text.startswith("br", i)) and re.match(r"b?r#*\"", text[i:]) and (
            i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")
        ):
            m = re.match(r"b?r(#*)\"", text[i:])
            end = text.find('"' + m.group(1), i + m.end())
            end = n if end < 0 else end + 1 + len(m.group(1))
            blank(i + m.end() - 1, end)
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, j)
            i = j + 1
        elif c == "'":
            m = re.match(r"'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'", text[i:])
            if m:
                blank(i, i + m.end())
                i += m.end()
            else:
                i += 1  # a lifetime
        else:
            i += 1
    return "".join(out)


def parse_use_tree(src):
    """`a::{b, c::{self, d as e}, f::*}` -> [(['a','b'], 'b'), (['a','c'], 'c'), (['a','c','d'], 'e'),
    (['a','f','*'], None)]: each leaf path with the name it binds (None for a glob, '_' kept as is)."""
    tokens = re.findall(r"::|[{},*]|[A-Za-z_][A-Za-z0-9_]*", src)
    pos = 0

    def peek():
        return tokens[pos] if pos < len(tokens) else None

    def take():
        nonlocal pos
        pos += 1
        return tokens[pos - 1]

    def tree(prefix):
        leaves = []
        path = list(prefix)
        if peek() == "::":  # a leading `::crate_name`
            take()
        while True:
            t = peek()
            if t is None:
                break
            if t == "{":
                take()
                while peek() not in ("}", None):
                    leaves += tree(path)
                    if peek() == ",":
                        take()
                take()
                return leaves
            if t == "*":
                take()
                return leaves + [(path + ["*"], None)]
            take()
            if t == "self" and path and peek() != "::":
                alias = path[-1]
                if peek() == "as":
                    take()
                    alias = take()
                leaves.append((list(path), alias))
                break
            path.append(t)
            if peek() == "::":
                take()
                continue
            alias = t
            if peek() == "as":
                take()
                alias = take()
            leaves.append((path, alias))
            break
        return leaves

    out = []
    while pos < len(tokens):
        out += tree([])
        if peek() == ",":
            take()
        elif pos < len(tokens) and peek() not in ("{",):
            take()
    return out


# --- the module tree ----------------------------------------------------------------------------------------

MOD_RE = re.compile(r"((?:#\s*\[[^\]]*\]\s*)*)(?:pub\s*(?:\([^)]*\))?\s*)?\bmod\s+([A-Za-z_]\w*)\s*([;{])")
ITEM_RE = re.compile(
    r"(?:^|[;{}\n])\s*(?:#\s*\[[^\]]*\]\s*)*(?:pub\s*(?:\([^)]*\))?\s*)?"
    r"(?:(?:async|unsafe|const|default|extern(?:\s+\"[^\"]*\")?)\s+)*"
    r"(struct|enum|trait|fn|const|type|static|union|mod|macro_rules\s*!)\s+([A-Za-z_]\w*)"
)
USE_RE = re.compile(r"(?<![\w$])(pub\s*(?:\([^)]*\))?\s*)?\buse\s+([^;]*);")
INLINE_RE = re.compile(r"(?<![\w$:])(crate|super|self)((?:\s*::\s*[A-Za-z_]\w*)+)")


class Module:
    def __init__(self, path, file, children_dir):
        self.path = path  # tuple of names from the target's root
        self.file = file
        self.children_dir = children_dir
        self.children = {}  # name -> module path
        self.defs = set()
        self.exports = {}  # name -> absolute segments, of `pub use`
        self.bindings = {}  # name -> absolute segments, of every `use` (children see private ones too)
        self.globs = []  # absolute segments of `pub use x::*`


class Target:
    """One compilation target: its modules, and the `use`s and inline paths of each file."""

    def __init__(self, files, root):
        self.files = files  # relative path -> text
        self.modules = {}
        self.loaded = set()
        self.file_mod = {}
        self.refs = []  # (file, module path, segments, line, text)
        self.load(root, (), os.path.dirname(root))

    def load(self, file, modpath, children_dir):
        if file not in self.files or file in self.loaded:
            return
        self.loaded.add(file)
        self.file_mod[file] = modpath
        text = self.files[file]
        code = strip(text)
        depth = []
        d = 0
        for ch in code:
            depth.append(d)
            d += ch == "{"
            d -= ch == "}"
        # Inline modules: (start, end, module path, children dir).
        scopes = [(0, len(code), modpath, children_dir)]
        self.modules[modpath] = Module(modpath, file, children_dir)

        def scope_at(pos):
            best = scopes[0]
            for s in scopes[1:]:
                if s[0] <= pos < s[1] and len(s[2]) > len(best[2]):
                    best = s
            return best

        for m in MOD_RE.finditer(code):
            name, kind = m.group(2), m.group(3)
            outer = scope_at(m.start(2))
            child = outer[2] + (name,)
            self.modules.setdefault(outer[2], Module(outer[2], file, outer[3])).children[name] = child
            if kind == "{":
                start = m.end() - 1
                end, k = None, start
                while k < len(code):
                    if code[k] == "}" and depth[k] == depth[start] + 1:
                        end = k
                        break
                    k += 1
                end = len(code) if end is None else end
                scopes.append((start, end, child, os.path.join(outer[3], name)))
                self.modules[child] = Module(child, file, os.path.join(outer[3], name))
            else:
                attr = text[m.start(1) : m.end(1)]
                p = re.search(r"\bpath\s*=\s*\"([^\"]*)\"", attr)
                if p:
                    target = os.path.normpath(os.path.join(os.path.dirname(file), p.group(1)))
                    sub = os.path.join(os.path.dirname(target), os.path.splitext(os.path.basename(target))[0])
                    if os.path.basename(target) in ROOT_FILES:
                        sub = os.path.dirname(target)
                else:
                    flat = os.path.join(outer[3], name + ".rs")
                    target = flat if flat in self.files else os.path.join(outer[3], name, "mod.rs")
                    sub = os.path.join(outer[3], name)
                self.load(target, child, sub)

        for m in ITEM_RE.finditer(code):
            s = scope_at(m.start(2))
            if depth[m.start(2)] == (depth[s[0]] + 1 if s[2] != modpath else 0):
                self.modules[s[2]].defs.add(m.group(2))

        use_spans = []
        for m in USE_RE.finditer(code):
            use_spans.append((m.start(), m.end()))
            s = scope_at(m.start())
            line = code.count("\n", 0, m.start()) + 1
            for segs, alias in parse_use_tree(m.group(2)):
                absolute = self.absolute(s[2], segs)
                if absolute is not None and alias not in (None, "_"):
                    self.modules[s[2]].bindings[alias] = absolute
                if m.group(1):  # a re-export: not an edge, but followed when resolving
                    if absolute is None:
                        continue
                    if alias is None:
                        self.modules[s[2]].globs.append(absolute[:-1])
                    elif alias != "_":
                        self.modules[s[2]].exports[alias] = absolute
                else:
                    self.refs.append((file, s[2], segs, line, " ".join(m.group(0).split())))
        for m in INLINE_RE.finditer(code):
            if any(a <= m.start() < b for a, b in use_spans):
                continue
            segs = [m.group(1)] + re.findall(r"[A-Za-z_]\w*", m.group(2))
            line = code.count("\n", 0, m.start()) + 1
            self.refs.append((file, scope_at(m.start())[2], segs, line, "::".join(segs)))

    def absolute(self, ctx, segs):
        """The path from the target's root that `segs`, written in module `ctx`, names (None: another crate)."""
        segs = list(segs)
        if not segs:
            return None
        cur = ctx
        if segs[0] == "crate":
            cur, segs = (), segs[1:]
        elif segs[0] in ("self", "super"):
            while segs and segs[0] in ("self", "super"):
                if segs[0] == "super":
                    cur = cur[:-1]
                segs = segs[1:]
        else:
            mod = self.modules.get(ctx)
            if mod is None:
                return None
            if segs[0] not in mod.children and segs[0] not in mod.defs:
                if segs[0] in mod.bindings:
                    return mod.bindings[segs[0]] + segs[1:]
                return None
        return list(cur) + segs

    def resolve(self, ctx, segs, hops=0):
        """The file that defines what `segs` (written in module `ctx`) names, or None when outside."""
        absolute = self.absolute(ctx, segs)
        if absolute is None:
            return None
        return self.resolve_absolute(absolute, hops)

    def resolve_absolute(self, segs, hops=0, glob_at=None):
        """`glob_at`: the index of the segment looked up through a glob re-export; a glob re-exports only
        what the module defines or re-exports itself, never its private imports, so no fallback there."""
        cur = ()
        i = 0
        while i < len(segs):
            mod = self.modules.get(cur)
            name = segs[i]
            if mod is None:
                return None
            if name in mod.children and mod.children[name] in self.modules:
                cur = mod.children[name]
                i += 1
                continue
            # Something of its own beside its child modules: a module that only declares others is never
            # what a path into it depends on.
            own = mod.defs - set(mod.children)
            if name == "*":
                return mod.file if own else None
            if name in mod.defs:
                return mod.file
            if hops < 16 and name in mod.exports:
                return self.resolve_absolute(mod.exports[name] + segs[i + 1 :], hops + 1)
            strict = glob_at == i
            if hops < 16 and name in mod.bindings and not strict:
                return self.resolve_absolute(mod.bindings[name] + segs[i + 1 :], hops + 1)
            if hops < 16:
                for glob in mod.globs:
                    found = self.resolve_absolute(glob + segs[i:], hops + 1, glob_at=len(glob))
                    if found is not None and found != mod.file:
                        return found
            if strict:
                return None
            return mod.file if own else None
        return self.modules[cur].file if cur in self.modules else None

    def edges(self):
        """{file: {target file: (line, text)}}, first evidence per pair."""
        out = {}
        for file, ctx, segs, line, text in self.refs:
            target = self.resolve(ctx, segs)
            if target is None or target == file:
                continue
            # An inline module (a file's `mod tests { … }`) is a node of its own: nothing imports it, so its
            # imports (test fixtures) cannot close a cycle through the file that holds it.
            own = self.file_mod.get(file, ctx)
            source = file if ctx == own else file + "#" + "::".join(ctx[len(own) :])
            out.setdefault(source, {}).setdefault(target, (line, text))
        return out


# --- cycles -------------------------------------------------------------------------------------------------


def strongly_connected(graph):
    index, low, stack, on, comps = {}, {}, [], set(), []
    counter = [0]
    nodes = sorted(set(graph) | {t for ts in graph.values() for t in ts})

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return [c for c in comps if len(c) > 1]


def shortest_cycle(graph, comp):
    """A shortest cycle through the first file of the component, as a list of files (first repeated last)."""
    start = comp[0]
    members = set(comp)
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph.get(v, ())):
            if w not in members:
                continue
            if w == start:
                chain = [v]
                while prev[chain[-1]] is not None:
                    chain.append(prev[chain[-1]])
                return list(reversed(chain)) + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return comp + [start]


def targets_of(crate_dir):
    """(name, root file) of each target of a crate: the library, binaries, each test binary."""
    out = []
    src = os.path.join(crate_dir, "src")
    for root in ("lib.rs", "main.rs"):
        if os.path.isfile(os.path.join(src, root)):
            out.append((root[:-3], os.path.join(src, root)))
    bins = os.path.join(src, "bin")
    if os.path.isdir(bins):
        for entry in sorted(os.listdir(bins)):
            p = os.path.join(bins, entry)
            root = p if entry.endswith(".rs") else os.path.join(p, "main.rs")
            if os.path.isfile(root):
                out.append(("bin " + entry.removesuffix(".rs"), root))
    tests = os.path.join(crate_dir, "tests")
    if os.path.isdir(tests):
        for entry in sorted(os.listdir(tests)):
            p = os.path.join(tests, entry)
            if entry.endswith(".rs") and os.path.isfile(p):
                out.append(("test " + entry[:-3], p))
            elif os.path.isfile(os.path.join(p, "main.rs")):
                out.append(("test " + entry, os.path.join(p, "main.rs")))
    return out


def read_tree(crate_dir):
    files = {}
    for sub in ("src", "tests"):
        for dirpath, _, names in os.walk(os.path.join(crate_dir, sub)):
            for name in names:
                if name.endswith(".rs"):
                    p = os.path.join(dirpath, name)
                    with open(p, encoding="utf-8") as f:
                        files[p] = f.read()
    return files


def check(root, include_all):
    crates = sorted(e for e in os.listdir(os.path.join(root, "crates")) if os.path.isdir(os.path.join(root, "crates", e)))
    skipped = [c for c in crates if c in EXCLUDED and not include_all]
    found, checked_targets, checked_files = [], 0, 0
    for crate in crates:
        if crate in skipped:
            continue
        crate_dir = os.path.join("crates", crate)
        files = read_tree(os.path.join(root, crate_dir))
        files = {os.path.relpath(p, root): t for p, t in files.items()}
        for name, entry in targets_of(os.path.join(root, crate_dir)):
            target = Target(files, os.path.relpath(entry, root))
            graph = target.edges()
            checked_targets += 1
            checked_files += len({m.file for m in target.modules.values()})
            for comp in strongly_connected(graph):
                found.append((crate, name, comp, graph))
    for crate, name, comp, graph in found:
        chain = shortest_cycle(graph, comp)
        print(f"cycle in crates/{crate} ({name}): {len(comp)} files: {', '.join(comp)}")
        for a, b in zip(chain, chain[1:]):
            line, text = graph[a][b]
            print(f"  {a}:{line} -> {b}    {text}")
        rest = [(a, b) for a in comp for b in sorted(graph.get(a, ())) if b in comp and (a, b) not in zip(chain, chain[1:])]
        for a, b in rest:
            line, text = graph[a][b]
            print(f"  also {a}:{line} -> {b}    {text}")
    note = f" (skipped: {', '.join(skipped)}; --all checks them)" if skipped else ""
    if found:
        print(f"check-cycles: {len(found)} cycle(s) in {checked_targets} targets{note}")
        return 1
    print(f"check-cycles: no import cycles in {checked_targets} targets, {checked_files} files{note}")
    return 0


# --- self-test ----------------------------------------------------------------------------------------------


def self_test():
    failures = []

    def expect(what, got, want):
        if got != want:
            failures.append(f"{what}: got {got!r}, want {want!r}")

    expect(
        "nested groups, self, as, glob",
        parse_use_tree("a::{b, c::{self, d as e}, f::*}"),
        [(["a", "b"], "b"), (["a", "c"], "c"), (["a", "c", "d"], "e"), (["a", "f", "*"], None)],
    )
    expect("multi-line", parse_use_tree("crate::x::{\n    Y,\n    z::W,\n}"), [(["crate", "x", "Y"], "Y"), (["crate", "x", "z", "W"], "W")])
    expect("super", parse_use_tree("super::super::m::T"), [(["super", "super", "m", "T"], "T")])
    expect("leading ::", parse_use_tree("::std::fmt"), [(["std", "fmt"], "fmt")])
    expect("top-level group", parse_use_tree("{a::B, c}"), [(["a", "B"], "B"), (["c"], "c")])
    code = 'let s = "crate::a"; // crate::b\n/* use c; */ x'
    expect("strings and comments", strip(code), 'let s = "' + " " * 8 + '";' + " " * 12 + "\n" + " " * 13 + "x")
    expect("chars and lifetimes", strip("fn f<'a>(c: char) -> bool { c == '{' }"), "fn f<'a>(c: char) -> bool { c ==     }")

    def graph(files, root="src/lib.rs"):
        return Target(files, root).edges()

    # A cycle through a re-export: lib.rs re-exports, a.rs and b.rs import each other's items.
    g = graph({
        "src/lib.rs": "mod a;\nmod b;\npub use a::A;\npub use b::B;\n",
        "src/a.rs": "use crate::B;\npub struct A;\n",
        "src/b.rs": "pub struct B(crate::A);\n",
    })
    expect("re-export followed to the defining file", g, {"src/a.rs": {"src/b.rs": (1, "use crate::B;")}, "src/b.rs": {"src/a.rs": (1, "crate::A")}})
    expect("that is a cycle", strongly_connected(g), [["src/a.rs", "src/b.rs"]])

    # Children using super:: of a mod.rs that only declares them: the sibling, never the parent.
    g = graph({
        "src/lib.rs": "mod h;\n",
        "src/h/mod.rs": "mod x;\npub mod y;\npub use y::Y;\n",
        "src/h/x.rs": "use super::{y::Y, Z};\nuse super::*;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        "src/h/y.rs": "pub struct Y;\n",
    })
    expect("super:: to a sibling, no edge to the parent", g, {"src/h/x.rs": {"src/h/y.rs": (1, "use super::{y::Y, Z};")}})
    expect("no cycle between parent and children", strongly_connected(g), [])

    # An item defined in the parent: an edge child -> parent, and the parent's `mod` is no edge back.
    g = graph({
        "src/lib.rs": "mod p;\n",
        "src/p/mod.rs": "mod c;\npub(crate) fn helper() {}\n",
        "src/p/c.rs": "fn f() { super::helper(); }\n",
    })
    expect("child -> parent for an item of the parent", g, {"src/p/c.rs": {"src/p/mod.rs": (1, "super::helper")}})

    # #[path], a test binary's shared module, a method named like a module item does not count.
    g = graph({
        "tests/t.rs": '#[path = "shared/common.rs"]\nmod common;\nuse common::Db;\n',
        "tests/shared/common.rs": "pub struct Db;\nimpl Db { fn new() {} }\n",
    }, "tests/t.rs")
    expect("#[path] module", g, {"tests/t.rs": {"tests/shared/common.rs": (3, "use common::Db;")}})

    # A glob re-export carries what a module defines, never its private imports; a test module's imports
    # (fixtures) are a node of their own and close no cycle.
    g = graph({
        "src/lib.rs": "mod k;\nmod f;\n",
        "src/k/mod.rs": "mod a;\nmod m;\npub use a::*;\npub use m::*;\n",
        "src/k/a.rs": "use crate::k::M;\npub struct A(M);\n#[cfg(test)]\nmod tests {\n    use crate::f::*;\n}\n",
        "src/k/m.rs": "pub struct M;\n",
        "src/f.rs": "use crate::k::A;\npub fn fixture() -> A { todo!() }\n",
    })
    expect("glob re-export resolves to the defining file", g.get("src/k/a.rs"), {"src/k/m.rs": (1, "use crate::k::M;")})
    expect("a test module is its own node", strongly_connected(g), [])
    if failures:
        print("check-cycles self-test FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("check-cycles self-test: ok")
    return 0


def main(argv):
    if "--self-test" in argv:
        return self_test()
    unknown = [a for a in argv if a not in ("--all",)]
    if unknown:
        print(__doc__)
        return 2
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    return check(root, "--all" in argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
