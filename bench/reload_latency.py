#!/usr/bin/env python3
"""Edit-to-reload latency of ``factsite serve`` on a large synthetic corpus.

    python bench/reload_latency.py                  # 10,000 entries (slow: that is the point)
    python bench/reload_latency.py --entries 300    # a quick run

Generates a corpus with ``../shared/bench/make_corpus.py`` (relative to the repository
root; ``--corpus-script`` to point elsewhere) into ``bench/work/reload-latency/`` (apart
from ``bench/run.py``'s corpora, since this one is edited), once: each run copies it as
generated, so its first build is a build from nothing. It then starts
``python -m generator serve`` on it in a subprocess, and performs 20 edits of different
kinds: body text, title, verdict, companies, tags, draft on/off, new entry, deleted
entry, template, CSS. Before each edit a "tab" opens the affected page's event stream,
exactly as the injected script does; the latency is the time from the moment the edited
file is on disk to the moment that tab receives its ``reload`` (or ``css``) event.
Prints each edit, then the median and the worst.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from run import generate_corpus, set_aside  # bench/run.py, beside this script

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SCRIPT = Path("../shared/bench/make_corpus.py")  # relative to the repository root


def get(port: int, path: str) -> tuple[int, bytes]:
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(1 << 16):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


class Tab:
    """A page's event stream, opened with the version of the page as fetched now."""

    def __init__(self, port: int, path: str) -> None:
        _status, body = get(port, path)
        match = re.search(rb'data-version="([0-9a-f]+)"', body)
        version = match.group(1).decode() if match else ""
        self.events: queue.Queue[tuple[str, dict]] = queue.Queue()
        self.sock = socket.create_connection(("127.0.0.1", port))
        target = f"/__factsite/events?path={quote(path, safe='')}&v={version}"
        self.sock.sendall(f"GET {target} HTTP/1.0\r\n\r\n".encode())
        self.file = self.sock.makefile("rb")
        threading.Thread(target=self._read, daemon=True).start()
        self.hello = self.wait({"hello"}, 60)[1]

    def _read(self) -> None:
        event, data = "", ""
        try:
            for raw in self.file:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = line[6:]
                elif not line and event:
                    self.events.put((event, json.loads(data or "{}")))
                    event, data = "", ""
        except (OSError, ValueError):
            pass

    def wait(self, kinds: set[str], timeout: float) -> tuple[str, dict]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"none of {kinds} within {timeout} s")
            event, data = self.events.get(timeout=left)
            if event in kinds:
                return event, data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


@dataclass
class Edit:
    kind: str
    path: str  # the page whose tab must hear about it
    expect: str  # "reload" or "css"
    apply: Callable[[], object]  # does the edit


def entry_slug(path: Path) -> str:
    return re.sub(r"^\d{4}-\d{2}-\d{2}-", "", path.stem)


def replace_line(path: Path, key: str, value: str) -> None:
    text = path.read_text(encoding="utf-8")
    head, sep, body = text[4:].partition("\n---\n")
    lines = [ln for ln in head.split("\n") if not ln.startswith(f"{key}:")]
    if value:
        lines.insert(1, f"{key}: {value}")
    path.write_text("---\n" + "\n".join(lines) + sep + body, encoding="utf-8")


def plan_edits(site: Path) -> list[Edit]:
    """Twenty edits, two of each kind, on different entries spread over the corpus."""
    entries = sorted((site / "content" / "entries").rglob("*.md"))
    published = [p for p in entries if "\ndraft: true" not in p.read_text(encoding="utf-8")]
    step = max(1, len(published) // 40)
    pool = iter(published[::step][1:])
    companies = sorted(p.stem for p in (site / "content" / "companies").glob("*.md"))
    theme_css = (REPO / "templates" / "assets" / "style.css").read_text(encoding="utf-8")
    drafted = next(pool)  # drafted in the first round, published again in the second

    def page(path: Path) -> str:
        return f"/checks/{entry_slug(path)}/"

    def append(path: Path, text: str) -> None:
        path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")

    def new_entry(slug: str, n: int) -> None:
        write(site / "content" / "entries" / f"{slug}.md",
              f"---\ntitle: A brand-new check {n}\nclaim: Something new was said\n"
              f"verdict: false\npublished: 2021-06-0{n + 1}\ncompanies: [{companies[0]}]\n"
              f"---\n\nThe new check's text.\n")

    def template(n: int) -> None:
        write(site / "templates" / "check.html",
              '{% extends "!theme/check.html" %}\n'
              f"{{% block title %}}Edit {n}: {{{{ super() }}}}{{% endblock %}}\n")

    edits: list[Edit] = []
    for n in range(2):
        body, title, verdict, named, tagged, gone = (next(pool) for _ in range(6))
        fresh = f"bench-new-check-{n}"
        edits += [
            Edit("body text", page(body), "reload",
                 lambda p=body, n=n: append(p, f"\nA new paragraph, edit {n}.\n")),
            Edit("title", page(title), "reload",
                 lambda p=title, n=n: replace_line(p, "title", f"A retitled check number {n}")),
            Edit("verdict", page(verdict), "reload",
                 lambda p=verdict, n=n: replace_line(p, "verdict", ["true", "unproven"][n])),
            Edit("companies", page(named), "reload",
                 lambda p=named, n=n: replace_line(p, "companies", f"[{companies[n]}]")),
            Edit("tags", page(tagged), "reload",
                 lambda p=tagged, n=n: replace_line(p, "tags", f"[benchmark-tag-{n}, rumor]")),
            Edit(["draft on", "draft off"][n], page(drafted), "reload",
                 lambda n=n: replace_line(drafted, "draft", ["true", ""][n])),
            Edit("new entry", f"/checks/{fresh}/", "reload",
                 lambda s=fresh, n=n: new_entry(s, n)),
            Edit("deleted entry", page(gone), "reload", lambda p=gone: p.unlink()),
            Edit("template", page(body), "reload", lambda n=n: template(n)),
            Edit("CSS", page(title), "css",
                 lambda n=n: write(site / "templates" / "assets" / "style.css",
                                   theme_css + f"\n/* edit {n} */\n")),
        ]
    return edits


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--corpus-script", type=Path, default=DEFAULT_SCRIPT,
                        help="make_corpus.py (relative paths from the repository root)")
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "work" / "reload-latency",
                        help="scratch folder (the edited corpus and serve.log go here)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per edit at most")
    args = parser.parse_args()

    script = args.corpus_script if args.corpus_script.is_absolute() else REPO / args.corpus_script
    site = args.work / f"corpus-{args.entries}"
    trash = args.work / "trash"
    set_aside(site, trash)
    # The corpus as generated, made again only when the generator or the number of
    # entries changed, and copied for each run, which edits it.
    pristine = args.work / f"pristine-{args.entries}"
    generate_corpus(sys.executable, script, pristine, args.entries, 1, trash)
    shutil.copytree(pristine, site)
    try:
        return measure(args, site)
    finally:
        shutil.rmtree(trash, ignore_errors=True)


def measure(args: argparse.Namespace, site: Path) -> int:
    """Serve ``site``, make the edits, print each latency, the median and the worst."""
    port = free_port()
    log = (args.work / "serve.log").open("w")
    env = {k: v for k, v in os.environ.items() if k != "FACTSITE_NOW"}
    server = subprocess.Popen(
        [sys.executable, "-m", "generator", "serve", str(site), "--port", str(port)],
        cwd=REPO, stdout=log, stderr=subprocess.DEVNULL, env=env,
    )
    try:
        started = time.perf_counter()
        while True:  # until the server answers and its first build is done
            if server.poll() is not None:
                raise SystemExit(f"the server stopped; see {args.work / 'serve.log'}")
            try:
                tab = Tab(port, "/")
            except OSError:
                time.sleep(0.2)
                continue
            builds = tab.hello["builds"]
            if builds < 1:
                tab.wait({"built"}, args.timeout)
            tab.close()
            break
        print(f"First build done after {time.perf_counter() - started:.1f} s", flush=True)

        results: list[tuple[str, float]] = []
        for number, edit in enumerate(plan_edits(site), 1):
            tab = Tab(port, edit.path)
            edit.apply()
            on_disk = time.perf_counter()
            event, data = tab.wait({edit.expect, "errors"}, args.timeout)
            latency = time.perf_counter() - on_disk
            if event == "errors":  # the site (or the theme being edited meanwhile) is broken
                raise SystemExit("the rebuild failed:\n" + "\n".join(data["errors"]))
            tab.wait({"built"}, args.timeout)  # let the build finish before the next edit
            tab.close()
            results.append((edit.kind, latency))
            print(f"{number:>2}. {edit.kind:<14} {event:<6} {latency:8.2f} s  {edit.path}",
                  flush=True)
        times = [t for _, t in results]
        worst = max(results, key=lambda r: r[1])
        print(f"\n{args.entries} entries, {len(times)} edits: median "
              f"{statistics.median(times):.2f} s, worst {worst[1]:.2f} s ({worst[0]})")
    finally:
        server.send_signal(signal.SIGTERM)  # SIGINT is ignored when run in the background
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    rebuilt = [float(m) for m in re.findall(r"^Rebuilt .*, ([\d.]+) s",
                                           (args.work / "serve.log").read_text(), re.M)]
    if rebuilt:
        print(f"server's own rebuild times: median {statistics.median(rebuilt):.2f} s, "
              f"worst {max(rebuilt):.2f} s over {len(rebuilt)} rebuilds")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
