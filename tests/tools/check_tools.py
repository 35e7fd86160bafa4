#!/usr/bin/env python3
"""Every program Volt, its tests, its demo and its benchmarks start must be named in the tools
table of scripts/setup.sh, in a group that is installed where it runs.

Scanned, in the files git knows of:
  - shell scripts (*.sh and files with a sh/bash shebang), parsed with shfmt's real parser: the
    command word of every simple command, the command behind wrappers (env, exec, timeout,
    unshare, nsenter, ip netns exec, ...), the scripts given to `sh -c`/`bash -c`, and the names
    given to `command -v`;
  - Rust: `Command::new("prog")`, and the programs Volt reports as missing with ERR_DEPENDENCY
    (`"PROG not found ... (install PKG)"`, `require_tool("PROG", "PKG")`): there the package
    must be the table's too;
  - Python: subprocess calls whose argument list starts with a literal, `shutil.which("prog")`;
  - C: `system("...")`.

A file's group decides which table groups count for it (scripts/demo.sh: the demo's; benches/:
the benchmarks'; test code and test scripts: the tests'; Volt's own sources: what Volt runs).
On top, every program of an installed package must really belong to that package (or to a
package it depends on), so a row cannot name the wrong package.

  check_tools.py            check the tree; exit 1 with one line per problem
  check_tools.py --list     print what was found, file by file
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "scripts" / "setup.sh"

# What each kind of file may rely on: the groups installed before it runs.
INSTALLED = {
    "base": {"base"},
    "build": {"base", "build"},
    "run": {"base", "build", "run"},
    "test": {"base", "build", "run", "test"},
    "demo": {"base", "build", "run", "demo"},
    "bench": {"base", "build", "run", "bench"},
}


@dataclass
class Row:
    groups: set[str]
    package: str  # Debian package name; "(rustup)" and "(pip:NAME)" are installed by setup.sh's own steps
    programs: list[str]
    line: int


@dataclass
class Use:
    program: str
    file: str
    line: int
    package: str | None = None  # the package the code names for it, if it names one


@dataclass
class Table:
    rows: list[Row] = field(default_factory=list)

    def by_program(self) -> dict[str, list[Row]]:
        out: dict[str, list[Row]] = {}
        for r in self.rows:
            for p in r.programs:
                out.setdefault(p, []).append(r)
        return out


def parse_table(text: str) -> Table:
    """The rows between `<<'TOOLS'` and `TOOLS` in setup.sh."""
    m = re.search(r"<<'TOOLS'\n(.*?)\nTOOLS\n", text, re.S)
    if not m:
        raise SystemExit("check_tools: no <<'TOOLS' table in scripts/setup.sh")
    first = text[: m.start(1)].count("\n") + 1
    table = Table()
    for i, raw in enumerate(m.group(1).split("\n")):
        line = raw.split("#", 1)[0].split()
        if not line:
            continue
        if len(line) < 2:
            raise SystemExit(f"setup.sh:{first + i}: a row is GROUPS PACKAGE [PROGRAM...]")
        groups = set(line[0].split(","))
        unknown = groups - INSTALLED.keys()
        if unknown:
            raise SystemExit(f"setup.sh:{first + i}: unknown group {', '.join(sorted(unknown))}")
        pkg = line[1].split("@", 1)[0]
        table.rows.append(Row(groups, pkg, line[2:], first + i))
    return table


# ---------------------------------------------------------------- which group a file belongs to


def file_group(path: str) -> str:
    if path == "scripts/setup.sh":
        return "base"
    if path == "scripts/demo.sh":
        return "demo"
    if path.startswith("benches/"):
        return "bench"
    if path in ("bindings/python/build.sh", "bindings/c/install.sh"):
        return "build"
    parts = path.split("/")
    if "tests" in parts or path.startswith(("scripts/", "examples/", ".ci/")) or path.endswith("/test.sh"):
        return "test"
    return "run"


# ---------------------------------------------------------------------------------- shell


BASH_BUILTINS: set[str] | None = None


def builtins() -> set[str]:
    global BASH_BUILTINS
    if BASH_BUILTINS is None:
        out = subprocess.run(["bash", "-c", "compgen -b; compgen -k"], capture_output=True, text=True, check=True)
        BASH_BUILTINS = set(out.stdout.split())
    return BASH_BUILTINS


# Wrappers whose argument after their own options is the program they start, with the options
# that take a value (so the value is not taken for the program).
WRAPPERS: dict[str, set[str]] = {
    "env": {"-u", "--unset", "-C", "--chdir", "-S"},
    "exec": {"-a"},
    "command": set(),
    "nohup": set(),
    "setsid": set(),
    "nice": {"-n", "--adjustment"},
    "ionice": {"-c", "-n", "-p"},
    "stdbuf": {"-i", "-o", "-e"},
    "time": {"-f", "-o"},
    "unshare": {"-R", "--root", "-w", "--wd", "-S", "--setuid", "-G", "--setgid", "--propagation"},
    "nsenter": {"-t", "--target", "-S", "--setuid", "-G", "--setgid", "-r", "-w"},
    "chroot": set(),  # takes the root first: handled below
    "timeout": {"-s", "--signal", "-k", "--kill-after"},  # then a duration: handled below
    "taskset": set(),  # then a mask: handled below
    "setpriv": {"--reuid", "--regid", "--groups", "--inh-caps", "--ambient-caps", "--bounding-set"},
    "xargs": {"-I", "-n", "-P", "-d", "-L", "-s", "-a", "-E"},
    "sudo": {"-u", "-g"},
    "runuser": {"-u", "-g"},
    "strace": {"-o", "-e", "-p", "-s"},
    "valgrind": set(),
    "hyperfine": set(),  # takes command strings: handled below
}


@dataclass
class Word:
    text: str | None  # None: not a literal (a variable, a substitution)
    line: int


def word_of(w: dict, consts: dict[str, str]) -> Word:
    """A shell word as a literal string when it is one (quotes removed; `$v`/`${V:-x}` resolved
    where v is a known literal or has a literal default)."""
    out = []
    for part in w.get("Parts", []):
        t = part.get("Type")
        if t == "Lit":
            out.append(part["Value"])
        elif t == "SglQuoted":
            out.append(part["Value"])
        elif t == "DblQuoted":
            inner = word_of(part, consts)
            if inner.text is None:
                return Word(None, w["Pos"]["Line"])
            out.append(inner.text)
        elif t == "ParamExp":
            name = part["Param"]["Value"]
            exp = part.get("Exp")
            index = part.get("Index")
            if index is not None:
                # "${ARR[@]}" / "${ARR[0]}" as a command: the array's first element.
                idx = word_of(index, {}).text if index.get("Parts") else None
                key = f"{name}[]"
                if idx in ("@", "*", "0") and key in consts and len(w.get("Parts", [])) == 1:
                    out.append(consts[key])
                else:
                    return Word(None, w["Pos"]["Line"])
            elif name in consts and not exp and not part.get("Length"):
                out.append(consts[name])
            elif exp and exp.get("Op") in (70, 71, 74, 75) and exp.get("Word"):  # ${X:-w} ${X-w} ${X:=w} ${X=w}
                d = word_of(exp["Word"], consts)
                if d.text is None:
                    return Word(None, w["Pos"]["Line"])
                out.append(d.text)
            else:
                return Word(None, w["Pos"]["Line"])
        else:
            return Word(None, w["Pos"]["Line"])
    return Word("".join(out), w["Pos"]["Line"])


def looks_like_program(s: str) -> bool:
    return bool(re.fullmatch(r"(/[\w.+-]+)*/?[A-Za-z_][\w.+-]*", s)) and not s.endswith((".sh", ".py"))


def program_name(s: str) -> str | None:
    """The name a command word runs, or None for a script path, a relative path or a non-name."""
    if not looks_like_program(s):
        return None
    if "/" in s:
        # An absolute path of a system program counts by its name; other paths are the
        # project's own files or files a test made.
        if re.match(r"^/(usr/)?(s?bin)/", s):
            return s.rsplit("/", 1)[1]
        return None
    return s


def _calls(node):
    if isinstance(node, dict):
        if node.get("Type") == "CallExpr" and node.get("Args"):
            yield node
        for v in node.values():
            yield from _calls(v)
    elif isinstance(node, list):
        for v in node:
            yield from _calls(v)


def _is_param(w: dict, name: str) -> bool:
    parts = w.get("Parts", [])
    if len(parts) == 1 and parts[0].get("Type") == "DblQuoted":
        parts = parts[0].get("Parts", [])
    return len(parts) == 1 and parts[0].get("Type") == "ParamExp" and parts[0]["Param"]["Value"] == name \
        and not parts[0].get("Exp") and not parts[0].get("Index")


def runs_args(body) -> int | None:
    """For a function body that runs "$@" as a command: how many arguments it shifts off first."""
    calls = list(_calls(body))
    if not any(_is_param(c["Args"][0], "@") for c in calls):
        return None
    shifts = 0
    for c in calls:
        a = [word_of(x, {}).text for x in c["Args"]]
        if a[0] == "shift":
            shifts += int(a[1]) if len(a) > 1 and a[1] and a[1].isdigit() else 1
    return shifts


def runs_var(body, var: str) -> bool:
    for c in _calls(body):
        args = c["Args"]
        if _is_param(args[0], var):
            return True
        if word_of(args[0], {}).text == "command" and len(args) > 2 and _is_param(args[2], var):
            return True
    return False


class ShellScan:
    def __init__(self, path: str, text: str):
        self.path = path
        self.uses: list[Use] = []
        self.functions: set[str] = set()
        self.consts: dict[str, str] = {}
        self.runners: dict[str, int] = {}  # functions that run their arguments: how many they shift first
        self.text = text

    def run(self) -> list[Use]:
        tree = self.parse(self.text)
        self.collect_defs(tree)
        self.walk(tree, 0)
        return self.uses

    def parse(self, text: str) -> dict:
        p = subprocess.run(["shfmt", "--tojson"], input=text, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"check_tools: shfmt cannot parse {self.path}: {p.stderr.strip()}")
        return json.loads(p.stdout)

    def collect_defs(self, node) -> None:
        if isinstance(node, dict):
            if node.get("Type") == "FuncDecl":
                name = node["Name"]["Value"]
                self.functions.add(name)
                shifts = runs_args(node["Body"])
                if shifts is not None:
                    self.runners[name] = shifts
            if node.get("Type") == "CallExpr" and not node.get("Args"):
                for a in node.get("Assigns", []):
                    if a.get("Value"):
                        v = word_of(a["Value"], {})
                        if v.text is not None and looks_like_program(v.text):
                            self.consts[a["Name"]["Value"]] = v.text
                    elif a.get("Array") and a["Array"].get("Elems"):
                        v = word_of(a["Array"]["Elems"][0]["Value"], {})
                        if v.text is not None and looks_like_program(v.text):
                            self.consts[a["Name"]["Value"] + "[]"] = v.text
            for v in node.values():
                self.collect_defs(v)
        elif isinstance(node, list):
            for v in node:
                self.collect_defs(v)

    def walk(self, node, offset: int) -> None:
        if isinstance(node, dict):
            if node.get("Type") == "CallExpr" and node.get("Args"):
                words = [word_of(a, self.consts) for a in node["Args"]]
                self.call(words, offset)
            if node.get("Type") == "ForClause" and node["Loop"].get("Type") == "WordIter":
                # for t in a b c; do "$t" ...; done  /  command -v "$t"
                var = node["Loop"]["Name"]["Value"]
                if runs_var(node.get("Do", []), var):
                    for item in node["Loop"].get("Items", []):
                        self.add(word_of(item, self.consts), offset)
            for v in node.values():
                self.walk(v, offset)
        elif isinstance(node, list):
            for v in node:
                self.walk(v, offset)

    def add(self, w: Word, offset: int) -> None:
        if w.text is None:
            return
        name = program_name(w.text)
        if name is None or name in self.functions or (name in builtins() and "/" not in w.text):
            return
        self.uses.append(Use(name, self.path, w.line + offset))

    def call(self, words: list[Word], offset: int) -> None:
        if not words or words[0].text is None:
            return
        head = words[0].text
        if head in ("sh", "bash") and len(words) >= 3 and words[1].text == "-c" and words[2].text is not None:
            self.add(words[0], offset)
            self.nested(words[2], offset)
            return
        if head == "command" and len(words) >= 3 and words[1].text in ("-v", "-V"):
            for w in words[2:]:
                self.add(w, offset)
            return
        if head == "ip" and len(words) >= 5 and [w.text for w in words[1:3]] == ["netns", "exec"]:
            self.add(words[0], offset)
            self.call(words[4:], offset)
            return
        if head == "hyperfine":
            self.add(words[0], offset)
            skip = False
            for w in words[1:]:
                if skip:
                    skip = False
                elif w.text and w.text.startswith("-"):
                    skip = w.text in ("-p", "--prepare", "-c", "--cleanup", "-w", "--warmup", "-r", "--runs",
                                      "-n", "--command-name", "--export-json", "--export-markdown", "-s", "--setup")
                elif w.text is not None:
                    self.nested(w, offset)
            return
        if head in WRAPPERS or head == "time":
            if head not in builtins() or head in ("command", "exec", "time"):
                self.add(words[0], offset)
            rest = words[1:]
            takes = WRAPPERS.get(head, set())
            i = 0
            while i < len(rest) and rest[i].text is not None:
                t = rest[i].text
                if head == "env" and re.fullmatch(r"[A-Za-z_]\w*=.*", t):
                    i += 1
                elif t == "--":
                    i += 1
                    break
                elif t.startswith("-"):
                    i += 2 if t in takes else 1
                else:
                    break
            if head == "chroot":
                return  # what runs is the new root's program, not the host's
            if (head == "timeout" and i < len(rest)) or head == "taskset":
                i += 1  # the duration or the mask
            self.call(rest[i:], offset)
            return
        if head in self.runners:
            self.call(words[1 + self.runners[head]:], offset)
            return
        self.add(words[0], offset)

    def nested(self, w: Word, offset: int) -> None:
        assert w.text is not None
        try:
            tree = self.parse(w.text)
        except SystemExit:
            return  # not a script (a format string, a path): nothing to add
        self.collect_defs(tree)
        self.walk(tree, offset + w.line - 1)


# ---------------------------------------------------------------------------------- Rust, Python, C

RUST_COMMAND = re.compile(r'Command::new\(\s*"([^"]+)"\s*\)')
RUST_REQUIRE = re.compile(r'require_tool\(\s*"([^"]+)"\s*,\s*"([^"]+)"')
RUST_MISSING = re.compile(r'"([\w.+-]+) not found[^"]*?\((?:apt-get )?install ([\w.+-]+)\)')


def scan_rust(path: str, text: str) -> list[Use]:
    uses = []
    for rx, has_pkg in ((RUST_COMMAND, False), (RUST_REQUIRE, True), (RUST_MISSING, True)):
        for m in rx.finditer(text):
            name = program_name(m.group(1))
            if name:
                line = text.count("\n", 0, m.start()) + 1
                uses.append(Use(name, path, line, m.group(2) if has_pkg else None))
    return uses


SUBPROCESS = {"run", "Popen", "call", "check_call", "check_output"}


def scan_python(path: str, text: str) -> list[Use]:
    uses = []
    for node in ast.walk(ast.parse(text, path)):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
        mod = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else None
        if not node.args:
            continue
        first = node.args[0]
        prog = None
        if mod == "subprocess" and name in SUBPROCESS:
            if isinstance(first, (ast.List, ast.Tuple)) and first.elts and isinstance(first.elts[0], ast.Constant):
                prog = first.elts[0].value
            elif isinstance(first, ast.Constant) and isinstance(first.value, str):
                prog = first.value.split()[0] if first.value.split() else None
        elif (mod, name) in (("shutil", "which"), ("os", "system")) and isinstance(first, ast.Constant):
            prog = str(first.value).split()[0]
        if isinstance(prog, str):
            n = program_name(prog)
            if n:
                uses.append(Use(n, path, node.lineno))
    return uses


C_SYSTEM = re.compile(r'\bsystem\(\s*"([^"\s]+)')


def scan_c(path: str, text: str) -> list[Use]:
    uses = []
    for m in C_SYSTEM.finditer(text):
        n = program_name(m.group(1))
        if n:
            uses.append(Use(n, path, text.count("\n", 0, m.start()) + 1))
    return uses


# ---------------------------------------------------------------------------------- the tree


def is_shell(path: Path, text: str) -> bool:
    if path.suffix == ".sh" or path.name == "run" and path.parent.name == ".ci":
        return True
    first = text.split("\n", 1)[0]
    return path.suffix == "" and bool(re.match(r"#!.*\b(ba)?sh\b", first))


def scan_tree() -> list[Use]:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    uses: list[Use] = []
    for rel in files.decode().split("\0"):
        if not rel:
            continue
        p = ROOT / rel
        if not p.is_file():
            continue
        try:
            text = p.read_text()
        except UnicodeDecodeError:
            continue
        if is_shell(p, text):
            uses += ShellScan(rel, text).run()
        elif p.suffix == ".rs":
            uses += scan_rust(rel, text)
        elif p.suffix == ".py":
            uses += scan_python(rel, text)
        elif p.suffix == ".c":
            uses += scan_c(rel, text)
    return uses


def check_uses(table: Table, uses: list[Use]) -> list[str]:
    problems = []
    rows = table.by_program()
    for u in uses:
        allowed = INSTALLED[file_group(u.file)]
        found = rows.get(u.program, [])
        where = f"{u.file}:{u.line}"
        if not found:
            problems.append(f"{where}: runs {u.program}, which the tools table in scripts/setup.sh does not name")
            continue
        if not any(r.groups & allowed for r in found):
            groups = ",".join(sorted(set().union(*(r.groups for r in found))))
            problems.append(
                f"{where}: runs {u.program}, but the table installs it only for {groups}, "
                f"not for what this file is part of ({file_group(u.file)})"
            )
        if u.package and not any(r.package == u.package for r in found):
            pkgs = ", ".join(sorted({r.package for r in found}))
            problems.append(f"{where}: names package {u.package} for {u.program}; the table says {pkgs}")
    return problems


# ------------------------------------------------------------- the table against what dpkg knows


def installed(pkg: str) -> bool:
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return p.returncode == 0 and "install ok installed" in p.stdout


def depends(pkg: str, depth: int = 3) -> set[str]:
    """The package and what it depends on (Depends and Pre-Depends, all alternatives), a few
    levels down: build-essential provides gcc through gcc-12."""
    seen = {pkg}
    frontier = [pkg]
    for _ in range(depth):
        nxt = []
        for p in frontier:
            out = subprocess.run(["dpkg-query", "-W", "-f=${Depends}, ${Pre-Depends}", p],
                                 capture_output=True, text=True).stdout
            for dep in re.split(r"[,|]", out):
                name = dep.strip().split(" ")[0].split(":")[0]
                if name and name not in seen:
                    seen.add(name)
                    nxt.append(name)
        frontier = nxt
    return seen


def owners(path: str) -> set[str]:
    cands = {path, os.path.realpath(path)}
    for c in list(cands):
        if c.startswith("/usr/"):
            cands.add(c[4:])
        else:
            cands.add("/usr" + c)
    out = set()
    for c in cands:
        p = subprocess.run(["dpkg-query", "-S", c], capture_output=True, text=True)
        if p.returncode == 0:
            for line in p.stdout.splitlines():
                if line.endswith(": " + c) and "diversion" not in line:
                    out.update(x.strip().split(":")[0] for x in line.rsplit(": ", 1)[0].split(","))
    return out


SYSTEM_BIN = ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/lib/podman"]


def check_packages(table: Table) -> list[str]:
    problems = []
    for r in table.rows:
        if r.package.startswith("(") or not installed(r.package):
            continue
        deps = None
        for prog in r.programs:
            # Every copy on the system, not only the first on PATH (a python3 of pyenv's or a git
            # under /usr/local may come first).
            paths = [prog] if prog.startswith("/") else [
                os.path.join(d, prog) for d in dict.fromkeys(os.environ.get("PATH", "").split(":") + SYSTEM_BIN) if d
            ]
            paths = [p for p in paths if os.path.exists(p)]
            if not paths:
                problems.append(f"setup.sh:{r.line}: {r.package} is installed but {prog} is not there")
                continue
            own: set[str] = set()
            for path in paths:
                own |= owners(path)
            if r.package in own:
                continue
            deps = deps or depends(r.package)
            if not own & deps:
                problems.append(
                    f"setup.sh:{r.line}: {prog} ({', '.join(paths)}) belongs to {', '.join(sorted(own)) or 'no package'}, "
                    f"not to {r.package}"
                )
    return problems


def self_test() -> None:
    """The scanner on small inputs whose programs are known: what must be found, what must not."""
    sh = """
run() { local what=$1; shift; "$@" >/dev/null; }
quiet() { "$VOLT" "$@"; }
cc=${CC:-gcc}
SK=(skopeo --override-os linux)
for t in ostree runc; do command -v "$t" >/dev/null; done
for f in a b; do echo "$f"; done
env A=1 B=2 timeout -s KILL 5 nsenter -t 1 -n iperf3 -c x | awk '{print}'
exec unshare --net --propagation private "$0"
run "push" "${SK[@]}" copy x y
quiet container run -- wget -q http://x/
"$cc" -o x x.c
ip netns exec ns1 ping -c1 10.0.0.1 || true
sh -c 'jq . </dev/null'
chroot /r systemd-machine-id-setup
/usr/sbin/nft list ruleset; ./build.sh; "$here/run.sh"
x=$(mktemp -d); cd "$x"; printf '%s' a; [ -e x ]
"""
    found = sorted({u.program for u in ShellScan("t.sh", sh).run()})
    want = sorted(["awk", "chroot", "env", "gcc", "ip", "iperf3", "jq", "mktemp", "nft", "nsenter", "ostree", "ping",
                   "runc", "sh", "skopeo", "timeout", "unshare"])
    assert found == want, f"shell scan: {found} != {want}"
    rs = 'Command::new("nft").arg(x); Command::new(prog); Error::Dependency("qemu-img not found (install qemu-utils)".into()); ' \
         'require_tool("flex", "flex", why)?; format!("{p} not found (install qemu-system-x86)")'
    got = sorted((u.program, u.package) for u in scan_rust("x.rs", rs))
    assert got == [("flex", "flex"), ("nft", None), ("qemu-img", "qemu-utils")], f"rust scan: {got}"
    py = 'import subprocess, shutil\nsubprocess.run(["nft", "-f", "-"])\nshutil.which("b3sum")\nsubprocess.run([exe, "x"])\n' \
         'subprocess.check_output("ip -j link", shell=True)\n'
    got_py = sorted(u.program for u in scan_python("x.py", py))
    assert got_py == ["b3sum", "ip", "nft"], f"python scan: {got_py}"
    table = parse_table("x <<'TOOLS'\nbase coreutils cat\nbench jq jq\nrun qemu-utils@backports qemu-img\nTOOLS\n")
    problems = check_uses(table, [Use("jq", "tests/x.sh", 1), Use("cat", "scripts/demo.sh", 2),
                                  Use("wget", "benches/a.sh", 3), Use("qemu-img", "volt-vm/src/d.rs", 4, "qemu")])
    assert len(problems) == 3 and "only for bench" in problems[0] and "does not name" in problems[1] \
        and "names package qemu" in problems[2], problems
    assert file_group("volt-core/src/x.rs") == "run" and file_group("volt-cli/tests/x.rs") == "test"


def main() -> int:
    if shutil.which("shfmt") is None:
        print("check_tools: shfmt not found (scripts/setup.sh installs it)", file=sys.stderr)
        return 10
    self_test()
    uses = scan_tree()
    if "--list" in sys.argv:
        for u in sorted(uses, key=lambda u: (u.file, u.program)):
            print(f"{file_group(u.file):6} {u.program:24} {u.file}:{u.line}")
        return 0
    table = parse_table(SETUP.read_text())
    problems = check_uses(table, uses) + check_packages(table)
    # A name the table gives that nothing uses is kept only if a row says why (a header, a
    # library): rows of packages whose every program is unused are reported.
    used = {u.program for u in uses}
    for r in table.rows:
        progs = [p for p in r.programs if not p.startswith("/")]
        if progs and not any(p in used for p in progs):
            problems.append(f"setup.sh:{r.line}: nothing runs {', '.join(progs)} ({r.package}); drop the row")
    for p in problems:
        print(p)
    print(f"check_tools: {len({u.program for u in uses})} programs in {len({u.file for u in uses})} files, "
          f"{len(table.rows)} table rows, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
