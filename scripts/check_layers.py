#!/usr/bin/env python3
"""Checks that src/somlier keeps its layers: a module includes only the modules it links.

    scripts/check_layers.py [--root DIR] [--print-edges]

The modules are the `somlier_module(NAME DIRS dir... DEPS dep...)` calls of the root
CMakeLists.txt: module NAME is built from src/somlier/<dir>/ for each of its DIRS and links
its DEPS (only the `somlier_*` ones are modules). A module may include the headers of
itself and of every module it links, directly or transitively. Every .cc and .h file
under src/somlier belongs to the module that lists its directory (`*_test.cc` files
included: they are built into their module's test binary); each of its
`#include "somlier/..."` lines must name an existing header of an allowed module.

Problems reported, one a line as `path:line: ...`: an include of a module that is not
allowed, an include of a header that does not exist, a directory with sources that no
module claims (CMake would silently not build it), a DIRS entry that does not exist, and a
directory claimed twice. Exit status: 0 when there is none, 1 when there are, 2 when
CMakeLists.txt cannot be read as expected. The last line is a one-line summary.

When the tree has docs/architecture.md, its table of layer edges (between the
`<!-- layer-edges ... -->` markers) must be exactly what --print-edges prints, so the
document cannot drift from the build.

--root DIR checks another tree (default: the repository that holds this script);
--print-edges prints each module's direct dependencies and the modules it may include,
in declaration order, and exits.

Standard library only, so that any python3 runs it.
"""
import argparse
import pathlib
import re
import sys

SOURCE_SUFFIXES = {".cc", ".h", ".cpp", ".hpp", ".hh", ".cxx"}
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*["<](somlier/[^">]+)[">]')
CALL_RE = re.compile(r"^[ \t]*somlier_module[ \t]*\(", re.M)
KEYWORDS = ("DIRS", "DEPS")


class ConfigError(Exception):
    """CMakeLists.txt does not describe the modules the way this script expects."""


class Module:
    def __init__(self, name, dirs, deps, line):
        self.name = name
        self.dirs = dirs
        self.deps = deps  # module names, from the somlier_* DEPS
        self.line = line
        self.allowed = set()


def strip_comments(text):
    """CMake text without its `# ...` line comments (not inside quoted arguments)."""
    out = []
    for line in text.split("\n"):
        quoted = False
        for i, ch in enumerate(line):
            if ch == '"' and (i == 0 or line[i - 1] != "\\"):
                quoted = not quoted
            elif ch == "#" and not quoted:
                line = line[:i]
                break
        out.append(line)
    return "\n".join(out)


def split_args(text):
    """The whitespace-separated arguments of a CMake call, quotes removed."""
    return [a[1:-1] if a.startswith('"') else a
            for a in re.findall(r'"(?:[^"\\]|\\.)*"|[^\s"]+', text)]


def parse_modules(cmakelists):
    """The somlier_module calls of cmakelists, as {name: Module} in declaration order."""
    try:
        text = strip_comments(cmakelists.read_text())
    except OSError as e:
        raise ConfigError(f"cannot read {cmakelists}: {e.strerror}")
    modules = {}
    for match in CALL_RE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        end = text.find(")", match.end())
        if end < 0:
            raise ConfigError(f"{cmakelists}:{line}: somlier_module( is never closed")
        args = split_args(text[match.end():end])
        if not args or args[0] in KEYWORDS:
            raise ConfigError(f"{cmakelists}:{line}: somlier_module without a name")
        name, lists, current = args[0], {"DIRS": [], "DEPS": []}, None
        for arg in args[1:]:
            if arg in KEYWORDS:
                current = arg
            elif current is None:
                raise ConfigError(f"{cmakelists}:{line}: somlier_module({name}): unexpected "
                                  f"argument '{arg}' before DIRS/DEPS")
            else:
                lists[current].append(arg.strip("/"))
        if name in modules:
            raise ConfigError(f"{cmakelists}:{line}: module '{name}' is declared twice")
        if not lists["DIRS"]:
            raise ConfigError(f"{cmakelists}:{line}: module '{name}' has no DIRS")
        deps = [d[len("somlier_"):] for d in lists["DEPS"] if d.startswith("somlier_")]
        modules[name] = Module(name, lists["DIRS"], deps, line)
    if not modules:
        raise ConfigError(f"{cmakelists}: no somlier_module(...) call found")
    for module in modules.values():
        for dep in module.deps:
            if dep not in modules:
                raise ConfigError(f"{cmakelists}:{module.line}: module '{module.name}' links "
                                  f"somlier_{dep}, which is not a somlier_module")
    for module in modules.values():
        stack, seen = [module.name], set()
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(modules[name].deps)
        module.allowed = seen
    return modules


def in_order(names, modules):
    order = list(modules)
    return sorted(names, key=order.index)


def edges_text(modules):
    width = max(len(name) for name in modules)
    lines = ["# module -> the modules it links (DEPS); [the modules it may include]"]
    for module in modules.values():
        deps = ", ".join(module.deps) or "(none)"
        allowed = ", ".join(in_order(module.allowed, modules))
        lines.append(f"{module.name:<{width}} -> {deps}  [{allowed}]")
    return "\n".join(lines) + "\n"


DOC = pathlib.Path("docs") / "architecture.md"
DOC_BEGIN = "<!-- layer-edges: the output of scripts/check_layers.py --print-edges -->"
DOC_END = "<!-- /layer-edges -->"


def check_doc(root, modules):
    """Problems with the architecture document's table of edges (it must say what CMake
    says); none when the tree has no such document."""
    doc = root / DOC
    if not doc.exists():
        return []
    text = doc.read_text(encoding="utf-8")
    begin, end = text.find(DOC_BEGIN), text.find(DOC_END)
    if begin < 0 or end < begin:
        return [f"{DOC}: no table of layer edges between '{DOC_BEGIN}' and '{DOC_END}'"]
    block = text[begin + len(DOC_BEGIN):end].strip().strip("`").strip()
    if block != edges_text(modules).strip():
        return [f"{DOC}: its table of layer edges differs from CMakeLists.txt; replace it with "
                f"the output of scripts/check_layers.py --print-edges"]
    return []


def check(root, modules):
    """(problems, files checked, includes checked); problems are printable lines."""
    base = root / "src" / "somlier"
    problems = []
    owner = {}  # directory relative to src/somlier -> module name
    for module in modules.values():
        for d in module.dirs:
            if d in owner:
                problems.append(f"CMakeLists.txt:{module.line}: directory src/somlier/{d} is "
                                f"claimed by modules '{owner[d]}' and '{module.name}'")
            owner[d] = module.name
            if not (base / d).is_dir():
                problems.append(f"CMakeLists.txt:{module.line}: module '{module.name}' lists "
                                f"DIRS {d}, but src/somlier/{d} does not exist")
    if not base.is_dir():
        problems.append(f"{base}: no such directory")
        return problems, 0, 0

    files = sorted(p for p in base.rglob("*")
                   if p.is_file() and p.suffix in SOURCE_SUFFIXES)
    unclaimed = set()
    n_files = n_includes = 0
    for path in files:
        rel_dir = path.parent.relative_to(base).as_posix()
        rel_path = path.relative_to(root).as_posix()
        module = owner.get(rel_dir)
        if module is None:
            if rel_dir not in unclaimed:
                unclaimed.add(rel_dir)
                problems.append(
                    f"{rel_path}: directory src/somlier/{rel_dir} is claimed by no module: add "
                    f"it to the DIRS of a somlier_module(...) in CMakeLists.txt (CMake does "
                    f"not build it)")
            continue
        n_files += 1
        allowed = modules[module].allowed
        try:
            lines = path.read_text(errors="replace").split("\n")
        except OSError as e:
            problems.append(f"{rel_path}: cannot read: {e.strerror}")
            continue
        for number, line in enumerate(lines, 1):
            match = INCLUDE_RE.match(line)
            if not match:
                continue
            n_includes += 1
            header = match.group(1)
            where = f"{rel_path}:{number}"
            if not (root / "src" / header).is_file():
                problems.append(f"{where}: module '{module}' includes {header}, which does "
                                f"not exist (no src/{header})")
                continue
            header_dir = pathlib.PurePosixPath(header).parent.relative_to("somlier").as_posix()
            target = owner.get(header_dir)
            if target is None:
                problems.append(f"{where}: module '{module}' includes {header}, whose "
                                f"directory src/somlier/{header_dir} is claimed by no module")
            elif target not in allowed:
                problems.append(
                    f"{where}: module '{module}' includes {header} from module '{target}', "
                    f"which {module} does not depend on "
                    f"(allowed: {', '.join(in_order(allowed, modules))})")
    return problems, n_files, n_includes


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Checks that each module of src/somlier includes only the modules it "
                    "links (the somlier_module calls of CMakeLists.txt).")
    parser.add_argument("--root", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent.parent,
                        help="the source tree to check (default: this script's repository)")
    parser.add_argument("--print-edges", action="store_true",
                        help="print each module's dependencies and allowed modules, and exit")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        modules = parse_modules(root / "CMakeLists.txt")
    except ConfigError as e:
        print(f"check_layers: {e}", file=sys.stderr)
        return 2
    if args.print_edges:
        print(edges_text(modules), end="")
        return 0
    problems, n_files, n_includes = check(root, modules)
    problems += check_doc(root, modules)
    for problem in problems:
        print(problem)
    counts = (f"{n_files} files, {n_includes} somlier includes checked against "
              f"{len(modules)} modules")
    if problems:
        plural = "" if len(problems) == 1 else "s"
        print(f"check_layers: FAILED: {len(problems)} problem{plural} ({counts})")
        return 1
    print(f"check_layers: ok: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
