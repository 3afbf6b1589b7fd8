#!/usr/bin/env python3
"""Checks that no crate of the workspace has an import circle between its modules.

For every workspace member (the `members` of the root Cargo.toml) this reads the library's
modules under `src/` and the paths they name with `crate::` and `super::` (in `use`
declarations, `use` groups such as `use crate::{a, b::c}`, and paths in code), and builds a
graph between the crate's top-level modules: `a -> b` when code in `a` names something in
`b`. A folder module (`a/mod.rs` with `a/*.rs`) and its inline `mod x { ... }` blocks are
one node, `a`: references between a module and its own children are not circles. `super::`
is resolved from the module the reference is in (in `a/b.rs`, `super::x` is `a::x`; in
`a.rs`, it is the crate's `x`), and `crate::Name` for a name the crate root re-exports
(`pub use config::Config;`) counts as a reference to the module it comes from.

Items under `#[cfg(test)]` are left out: tests may reach across modules. Any circle is
printed with the references that make it, and the exit status is 1.

Limits: this reads text, not the compiled crate. Paths written by macros, `#[path]`
attributes and cfgs other than `#[cfg(test)]` are not seen differently from plain code;
glob imports (`use crate::a::*`) count as a reference to `a` but re-exports in other
modules than the crate root are not followed; the binary root (`main.rs` beside a
`lib.rs`), `src/bin/`, `tests/`, `examples/` and `benches/` are not read. Circles between
crates cannot happen (Cargo refuses them).

Usage: scripts/module_cycles.py [WORKSPACE_ROOT]   (default: the repository root)
"""

from __future__ import annotations

import pathlib
import re
import sys
from collections import defaultdict

try:
    import tomllib
except ImportError:  # Python < 3.11: the members list is read with a pattern instead.
    tomllib = None

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"


def blank_comments_and_literals(text: str) -> str:
    """`text` with comments, string and char literals replaced by spaces (newlines kept),
    so that what remains is code and line numbers stay right."""
    out = []
    i, n = 0, len(text)

    def blank(s: str) -> str:
        return "".join(c if c == "\n" else " " for c in s)

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(blank(text[i:j]))
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
            out.append(blank(text[i:j]))
            i = j
        elif m := re.compile(r'b?r(#*)"').match(text, i):
            if i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
                out.append(c)
                i += 1
                continue
            end = text.find('"' + m.group(1), m.end())
            j = n if end < 0 else end + 1 + len(m.group(1))
            out.append(blank(text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(blank(text[i : j + 1]))
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '\u{1F600}'), or a lifetime ('a) which stays.
            m = re.compile(r"'(\\u\{[0-9a-fA-F]+\}|\\.|[^\\'])'").match(text, i)
            if m:
                out.append(blank(m.group(0)))
                i = m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def matching_brace(code: str, open_at: int) -> int:
    """The index just after the `}` that closes the `{` at `open_at`."""
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(code)


CFG_TEST = re.compile(r"#\[\s*cfg\s*\(\s*test\s*\)\s*\]")


def without_test_items(code: str) -> str:
    """`code` with every item under `#[cfg(test)]` blanked: from the attribute to the end of
    the item (its closing brace, or its `;` when that comes first)."""
    while m := CFG_TEST.search(code):
        j = m.end()
        semi, brace = code.find(";", j), code.find("{", j)
        if brace >= 0 and (semi < 0 or brace < semi):
            end = matching_brace(code, brace)
        else:
            end = len(code) if semi < 0 else semi + 1
        code = code[: m.start()] + "".join(
            c if c == "\n" else " " for c in code[m.start() : end]
        ) + code[end:]
    return code


def inline_modules(code: str) -> list[tuple[int, int, str]]:
    """The inline `mod name { ... }` blocks: (start, end, name), outermost first."""
    return [
        (m.start(), matching_brace(code, m.end() - 1), m.group(1))
        for m in re.finditer(rf"\bmod\s+({IDENT})\s*\{{", code)
    ]


def module_path_at(base: list[str], blocks, at: int) -> list[str]:
    """The module path of the code at offset `at` of a file whose module is `base`."""
    path = list(base)
    for start, end, name in blocks:
        if start <= at < end:
            path.append(name)
    return path


def group_items(group: str) -> list[str]:
    """The top-level elements of a `use` group's inside (`a, b::c, d::{e, f}`)."""
    items, depth, item = [], 0, ""
    for c in group + ",":
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        if c == "," and depth == 0:
            if item.strip():
                items.append(item.strip())
            item = ""
        else:
            item += c
    return items


def group_heads(group: str) -> list[str]:
    """The first segment of each top-level element of a `use` group's inside
    (`a, b::c, d::{e, f}` -> a, b, d)."""
    heads = [item.split("::")[0].strip() for item in group_items(group)]
    return [h for h in heads if re.fullmatch(IDENT, h)]


# `crate::a`, `super::super::a`, or `crate::{a, b}` / `super::{a, b}`.
PATH = re.compile(rf"\b(crate|(?:super\s*::\s*)*super)\s*::\s*(?:({IDENT})|\{{)")


def references(code: str, base: list[str]):
    """Every `crate::`/`super::` path in `code` (a file whose module is `base`), as
    (line, module the path is written in, the path from the crate root: its first segments)."""
    blocks = inline_modules(code)
    for m in PATH.finditer(code):
        line = code.count("\n", 0, m.start()) + 1
        here = module_path_at(base, blocks, m.start())
        if m.group(1) == "crate":
            prefix = []
        else:
            ups = m.group(1).count("super")
            if ups > len(here):
                continue
            prefix = here[: len(here) - ups]
        if m.group(2):
            heads = [m.group(2)]
        else:
            heads = group_heads(code[m.end() : matching_brace(code, m.end() - 1) - 1])
        for head in heads:
            yield line, here, prefix + [head]


def root_reexports(code: str, modules: set[str]) -> dict[str, str]:
    """Names the crate root re-exports from its own modules: `pub use config::Config;` and
    `pub use handler::{A, B};` map `Config`, `A`, `B` to their module."""
    names = {}
    for m in re.finditer(rf"\bpub\s+use\s+(?:crate\s*::\s*|self\s*::\s*)?({IDENT})\s*::\s*([^;]+);", code):
        if m.group(1) not in modules:
            continue
        rest = m.group(2).strip()
        items = group_items(rest[1:-1]) if rest.startswith("{") else [rest]
        for item in items:
            alias = re.search(rf"\bas\s+({IDENT})\s*$", item)
            name = alias.group(1) if alias else item.split("::")[-1].strip()
            if re.fullmatch(IDENT, name):
                names[name] = m.group(1)
    return names


def crate_graph(src: pathlib.Path):
    """The graph between a library's top-level modules: {a: {b: [(file, line), ...]}}."""
    root_file = src / "lib.rs"
    if not root_file.exists():
        root_file = src / "main.rs"
    files = {}
    for f in sorted(src.rglob("*.rs")):
        rel = f.relative_to(src)
        if rel.parts[0] == "bin" or (f.name == "main.rs" and f != root_file and len(rel.parts) == 1):
            continue
        parts = list(rel.with_suffix("").parts)
        if parts[-1] == "mod" or f == root_file:
            parts = parts[:-1]
        files[f] = parts
    modules = {p[0] for p in files.values() if p}
    root_code = without_test_items(blank_comments_and_literals(root_file.read_text()))
    modules |= {name for _, _, name in inline_modules(root_code)}
    reexports = root_reexports(root_code, modules)

    graph: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for f, base in files.items():
        code = without_test_items(blank_comments_and_literals(f.read_text()))
        for line, here, path in references(code, base):
            if not here:
                continue  # the crate root's own code: it declares every module
            head = path[0] if path else None
            # A path to the root itself (`super::X` from a top-level module) names the
            # crate's item X: a module, or a name the root re-exports from one.
            target = head if head in modules else reexports.get(head)
            if target is not None and target != here[0]:
                graph[here[0]][target].append((f, line))
    return graph


def circles(graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, {})):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(set(graph) | {w for e in graph.values() for w in e}):
        if v not in index:
            visit(v)
    return out


def one_cycle(graph, component: list[str]) -> list[str]:
    """A shortest circle through the component's first module, for the message."""
    start, members = component[0], set(component)
    paths, seen = [[start]], {start}
    while paths:
        nxt = []
        for p in paths:
            for w in sorted(graph.get(p[-1], {})):
                if w == start:
                    return p + [start]
                if w in members and w not in seen:
                    seen.add(w)
                    nxt.append(p + [w])
        paths = nxt
    return component + [start]


def members(root: pathlib.Path) -> list[pathlib.Path]:
    text = (root / "Cargo.toml").read_text()
    if tomllib:
        listed = tomllib.loads(text).get("workspace", {}).get("members", ["."])
    else:
        block = re.search(r"^members\s*=\s*\[(.*?)\]", text, re.S | re.M)
        listed = re.findall(r'"([^"]+)"', block.group(1)) if block else ["."]
    return [root / m for pattern in listed for m in sorted(
        str(p.relative_to(root)) for p in root.glob(pattern) if (p / "Cargo.toml").exists()
    )]


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[1])
    found, crates = 0, 0
    for crate in members(root):
        src = crate / "src"
        if not ((src / "lib.rs").exists() or (src / "main.rs").exists()):
            continue
        crates += 1
        graph = crate_graph(src)
        for component in circles(graph):
            found += 1
            cycle = one_cycle(graph, component)
            print(f"{crate.relative_to(root)}: import circle: {' -> '.join(cycle)}")
            for a, b in zip(cycle, cycle[1:]):
                where = ", ".join(f"{f.relative_to(root)}:{line}" for f, line in graph[a][b][:3])
                print(f"  {a} -> {b}: {where}")
            others = sorted(set(component) - set(cycle))
            if others:
                print(f"  (also in the circle: {', '.join(others)})")
    if found:
        print(f"module_cycles: {found} import circle(s); move the item to the module that owns it")
        return 1
    print(f"module_cycles: no import circle between the modules of {crates} crates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
