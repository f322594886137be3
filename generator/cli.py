"""The ``factsite`` command line: a thin layer over build, check and scaffold.

Exit status: 0 on success, 1 when the site has errors (or warnings under ``--strict``),
2 for a mistake in the command itself. Content mistakes never print a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .build import CACHE_DIR, BuildOptions, build
from .diagnostics import (
    WARNINGS_PER_KIND,
    BuildFailed,
    Diagnostic,
    Report,
    Severity,
    condense,
)
from .progress import Progress

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="factsite", description="Build a fact-checking site from Markdown files."
    )
    parser.add_argument("--version", action="version", version=f"factsite {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def site_options(cmd: argparse.ArgumentParser) -> None:
        cmd.add_argument(
            "site",
            nargs="?",
            default=".",
            type=Path,
            help="site folder holding content/ (default: current folder)",
        )
        cmd.add_argument(
            "--drafts",
            action="store_true",
            help="also publish drafts and entries dated in the future",
        )
        cmd.add_argument("--base-url", metavar="URL", help="override base_url from site.yaml")
        cmd.add_argument("--strict", action="store_true", help="treat warnings as errors")
        cmd.add_argument(
            "--format",
            choices=("text", "github"),
            default="text",
            help="how to print problems (github: Actions annotations)",
        )
        cmd.add_argument("-q", "--quiet", action="store_true", help="print only errors")
        cmd.add_argument("--all-warnings", action="store_true",
                         help=f"print every warning (by default the first "
                              f"{WARNINGS_PER_KIND} of each kind, then how many more)")
        cmd.add_argument("-j", "--jobs", type=int, metavar="N",
                         help="processes for rendering Markdown (and pages, when a rebuild "
                              "renders many), and two search indexers from 2 up "
                              "(default: the cores)")
        cmd.add_argument("--no-cache", action="store_true",
                         help="do not read or write SITE/.factsite-cache/")
        cmd.add_argument("--profile", action="store_true",
                         help="print the seconds each build step took")

    build_cmd = commands.add_parser("build", help="build the site into the output folder")
    site_options(build_cmd)
    build_cmd.add_argument(
        "-o", "--output", type=Path, metavar="OUT", help="output folder (default: SITE/output)"
    )
    build_cmd.set_defaults(handler=_cmd_build)

    check_cmd = commands.add_parser("check", help="validate everything without writing")
    site_options(check_cmd)
    check_cmd.set_defaults(handler=_cmd_check)

    serve_cmd = commands.add_parser(
        "serve", help="preview the site: serve it, rebuild on every change, reload the browser"
    )
    serve_cmd.add_argument(
        "site", nargs="?", default=".", type=Path, help="site folder (default: current folder)"
    )
    serve_cmd.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve_cmd.add_argument("--port", type=_port, default=8000, help="port (0: any free one)")
    serve_cmd.add_argument(
        "--drafts", action="store_true", help="also publish drafts and entries dated in the future"
    )
    serve_cmd.add_argument(
        "--poll", action="store_true", help="poll for changes (network drives, containers)"
    )
    serve_cmd.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    serve_cmd.set_defaults(handler=_cmd_serve)

    new_cmd = commands.add_parser("new", help="create a new entry or company file")
    new_cmd.add_argument("kind", choices=("entry", "company"))
    new_cmd.add_argument("title", help="the check's title or the company's name")
    new_cmd.add_argument("--site", type=Path, default=Path("."), help="site folder")
    new_cmd.set_defaults(handler=_cmd_new)

    init_cmd = commands.add_parser("init", help="create a new site that builds at once")
    init_cmd.add_argument("directory", type=Path)
    init_cmd.set_defaults(handler=_cmd_init)
    return parser


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port number (0-65535)")
    return port


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as exc:
        print(f"factsite: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _now() -> dt.datetime | None:
    """``FACTSITE_NOW`` (ISO 8601) pins the clock, e.g. to reproduce a past build."""
    value = os.environ.get("FACTSITE_NOW")
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(f"FACTSITE_NOW is not an ISO 8601 date-time: '{value}'") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class UsageError(Exception):
    """The command or its environment is wrong (exit status 2)."""


def _is_site(site: Path) -> bool:
    if not (site / "content").is_dir():
        print(
            f"factsite: {site} has no content/ folder; is it a site? "
            f"(create one with 'factsite init DIR')",
            file=sys.stderr,
        )
        return False
    return True


def _options(args: argparse.Namespace) -> BuildOptions | None:
    site = args.site
    if not _is_site(site):
        return None
    return BuildOptions(
        site_dir=site,
        out_dir=getattr(args, "output", None),
        drafts=args.drafts,
        base_url=args.base_url,
        strict=args.strict,
        now=_now(),
        jobs=args.jobs,
        cache_dir=None if args.no_cache else site / CACHE_DIR,
    )


def print_diagnostics(args: argparse.Namespace, items: list[Diagnostic], site: Path) -> None:
    """Print problems as ``args`` asks. ``-q`` hides warnings unless ``--strict`` made
    them fatal; past the first few of each kind, warnings are only counted."""
    if args.quiet and not args.strict:
        items = [item for item in items if item.severity is not Severity.WARNING]
    condensed = condense(items, None if args.all_warnings else WARNINGS_PER_KIND)
    for item in condensed.shown:
        if args.format == "github":
            # Annotations need paths from the repository root, where Actions runs us.
            if not Path(item.path).is_absolute():
                item = dataclasses.replace(item, path=os.path.relpath(site / item.path))
            print(item.format_github(), file=sys.stderr)
        else:
            print(item.format(), file=sys.stderr)
    for line in condensed.more_lines("--all-warnings prints every one"):
        print(line, file=sys.stderr)


def _run(args: argparse.Namespace, write: bool) -> int:
    options = _options(args)
    if options is None:
        return EXIT_USAGE
    try:
        with Progress.for_terminal(sys.stderr, args.quiet) as progress:
            result = build(options, write=write, progress=progress)
    except BuildFailed as failed:
        report: Report = failed.report
        print_diagnostics(args, report.items, options.site_dir)
        errors, warnings = len(report.errors), len(report.warnings)
        reason = f"{errors} error(s)" if errors else f"{warnings} warning(s) under --strict"
        print(
            f"factsite: {'build' if write else 'check'} failed with {reason}; "
            f"{'the previous output is unchanged' if write else 'nothing was written'}",
            file=sys.stderr,
        )
        return EXIT_ERRORS
    print_diagnostics(args, result.report.items, options.site_dir)
    if args.profile:  # per step: seconds, this process's CPU seconds, its peak memory
        phases = result.phases
        print("    wall  cpu(this process)  peak  step", file=sys.stderr)
        for phase, seconds in phases.seconds.items():
            print(f"{seconds:8.2f} s {phases.cpu[phase]:7.2f} s {phases.peak_mb[phase]:7,.0f} MB"
                  f"  {phase}", file=sys.stderr)
        if phases.templates:  # within "render pages"; a check card counts where first shown
            print("    time    pages  per page  template (slowest first)", file=sys.stderr)
            slowest = sorted(phases.templates.items(), key=lambda item: (-item[1][0], item[0]))
            for name, (seconds, pages) in slowest:
                print(f"{seconds:8.2f} s {pages:7,} {seconds / pages * 1000:7.2f} ms  {name}",
                      file=sys.stderr)
    if not args.quiet:
        for note in result.notes:  # facts about this build, not problems
            print(f"note: {note}")
        warnings = len(result.report.warnings)
        tail = f", {warnings} warning(s)" if warnings else ""
        if write:
            stats = result.stats
            print(
                f"Built {stats.total} files ({result.pages} pages) into {options.output}: "
                f"{stats.written} written, {stats.unchanged} unchanged, {stats.removed} removed"
                f"{tail}, {result.seconds:.2f} s"
            )
        else:
            print(f"Checked {result.pages} pages: no errors{tail}, {result.seconds:.2f} s")
    return EXIT_OK


def _cmd_build(args: argparse.Namespace) -> int:
    return _run(args, write=True)


def _cmd_check(args: argparse.Namespace) -> int:
    args.strict = True  # check is the CI gate: every warning and broken link fails it
    args.no_cache = True  # and it writes nothing at all, not even the cache
    return _run(args, write=False)


def _cmd_serve(args: argparse.Namespace) -> int:
    if not _is_site(args.site):
        return EXIT_USAGE
    from .serve import ServeOptions, serve  # imported here: only serve needs watchdog

    options = ServeOptions(
        site_dir=args.site,
        host=args.host,
        port=args.port,
        drafts=args.drafts,
        poll=args.poll,
        quiet=args.quiet,
        now=_now(),
    )
    return serve(options)


def _cmd_new(args: argparse.Namespace) -> int:
    from . import scaffold  # imported here: it loads what a build with nothing to do skips

    try:
        if args.kind == "entry":
            path = scaffold.new_entry(args.site, args.title, _now() or dt.datetime.now(dt.UTC))
        else:
            path = scaffold.new_company(args.site, args.title)
    except scaffold.ScaffoldError as exc:
        print(f"factsite: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"Created {path}")
    return EXIT_OK


def _cmd_init(args: argparse.Namespace) -> int:
    from . import scaffold  # imported here: see _cmd_new

    try:
        scaffold.init_site(args.directory, now=_now())
    except scaffold.ScaffoldError as exc:
        print(f"factsite: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"Created a new site in {args.directory}. Build it with:\n  factsite build {args.directory}"
    )
    return EXIT_OK
