"""One build: its options and result, and whether there is anything to do.

:func:`build` first checks the build stamp (:mod:`generator.stamp`): when every input
and the output folder are as the last successful build left them, the build is done
already. Otherwise :func:`generator.pipeline.build_site` makes the site: load → site
graph → render plan → templates → writer. It is imported only then: a build with
nothing changed never loads the renderers, Jinja or the rest (a tenth of a second of
imports, a fifth of such a build).
"""

from __future__ import annotations

import datetime as dt
import os
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import default_theme_dir, stamp
from .diagnostics import BuildFailed, Report
from .writer import UnsafeOutput, WriteStats, check_output_folder

if TYPE_CHECKING:
    from .cache import MemoryCache
    from .theme import Theme


CACHE_DIR = ".factsite-cache"  # inside the site folder; git-ignored


@dataclass
class BuildOptions:
    site_dir: Path
    out_dir: Path | None = None  # default: <site>/output
    drafts: bool = False
    base_url: str | None = None
    strict: bool = False
    now: dt.datetime | None = None  # what counts as "the future"; default: the clock
    jobs: int | None = None  # Markdown processes (and, from 2, two Pagefinds); default: cores
    cache_dir: Path | None = None  # keep parsed and rendered content here between runs

    @property
    def output(self) -> Path:
        return self.out_dir if self.out_dir is not None else self.site_dir / "output"


class Phases:
    """Per build step, for ``--profile``: wall-clock seconds, this process's CPU seconds
    (less than the wall clock where it waited: for Pagefind, say) and its peak memory
    (resident set, MB) at the end of the step (the step where the peak grows is where
    memory goes)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        # Page template → (seconds, pages) spent rendering it ("render pages").
        self.templates: dict[str, tuple[float, int]] = {}
        self._mark = time.perf_counter()
        self._cpu_mark = time.process_time()

    def done(self, name: str) -> None:
        now, cpu = time.perf_counter(), time.process_time()
        self.seconds[name] = now - self._mark
        self.cpu[name] = cpu - self._cpu_mark
        self.peak_mb[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self._mark, self._cpu_mark = now, cpu


@dataclass
class BuildResult:
    report: Report
    stats: WriteStats = field(default_factory=WriteStats)
    pages: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)  # one-line remarks for the summary
    phases: Phases = field(default_factory=Phases)  # each step's time and memory (--profile)
    base_url: str = ""  # as the build used it (site.yaml or --base-url)

def build(
    options: BuildOptions,
    *,
    write: bool = True,
    cache: MemoryCache | None = None,
    theme: Theme | None = None,
    progress: Callable[[int, int], None] | None = None,
    published: Callable[[WriteStats, str], None] | None = None,
) -> BuildResult:
    """Build the site; raises :class:`BuildFailed` (output untouched) on any error.

    ``cache`` and ``theme`` may be kept by a long-running caller between builds.
    ``progress(done, total)`` is called as pages render, for a progress line on long builds.
    ``published(stats, base_url)``, for a preview, is called when the pages are in
    place while search shards are still being indexed (see ``OutputWriter.publish``,
    which says what that costs): the output folder may then be left between the old
    site and the new one if the build fails after it.
    """
    started = time.perf_counter()
    phases = Phases()
    site_dir = options.site_dir
    report = Report(root=site_dir)
    protected = [site_dir / "content", site_dir / "templates"]
    if write:  # a refused output folder is reported before anything is read or written
        try:
            check_output_folder(options.output, protected)
        except UnsafeOutput as exc:
            report.error(options.output, None, str(exc))
            raise BuildFailed(report) from None
    now = options.now or dt.datetime.now(dt.UTC)
    stamp_path = (options.cache_dir / "stamp.json"
                  if write and cache is None and options.cache_dir is not None else None)
    previous = stamp.load(stamp_path) if stamp_path is not None else None
    inputs = _fingerprint(options, previous) if stamp_path is not None else stamp.Inputs("")
    if stamp_path is not None:
        if previous is not None and previous.still_valid(inputs.digest, now, options.output):
            # Nothing changed since the last successful build here: it is done already.
            report.extend(previous.diagnostics())
            phases.done("fingerprint: nothing changed")
            return BuildResult(report, WriteStats(unchanged=len(previous.outputs)),
                               previous.pages, time.perf_counter() - started,
                               previous.notes, phases, previous.base_url)
        stamp.forget(stamp_path)
    from .pipeline import build_site  # only now: see the module's docstring

    return build_site(options, report, phases, started, now, write=write, cache=cache,
                      theme=theme, progress=progress, stamp_path=stamp_path, inputs=inputs,
                      published=published)


def _fingerprint(options: BuildOptions, previous: stamp.Stamp | None) -> stamp.Inputs:
    """Everything a build reads, for the build stamp (files unchanged since the
    ``previous`` stamp's build by size, time and inode are not read again)."""
    site = options.site_dir
    return stamp.fingerprint(
        [site / "content", site / "templates", default_theme_dir()],
        {"output": os.path.realpath(options.output), "drafts": options.drafts,
         "base_url": options.base_url, "strict": options.strict},
        previous.known_inputs() if previous is not None else None)
