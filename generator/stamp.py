"""The build stamp: proof that nothing changed since the last successful build.

A stamp records a fingerprint of every input (the bytes of every file under ``content/``
and the templates, the options, the versions of factsite and its renderers), the size and
modification time of every file the build wrote, the warnings it reported and the moment
the next future-dated entry falls due. When all of that still holds, the build is done
already: nothing is rendered and nothing is written. Any difference, however small,
means a build (which renders only the pages whose inputs changed: see ``pagekeys``).

Input files are read only when their size, modification time or inode differ from the
last fingerprint's record, or when they changed within two seconds before it was taken
(a clock too coarse to show a second change); the others count by their recorded hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .cache import code_version, file_digest
from .diagnostics import Diagnostic, Severity
from .writer import dot_names, walk_output

STAMP_VERSION = 6


@dataclass
class Stamp:
    fingerprint: str
    outputs: dict[str, list[int]]  # relpath → [size, mtime_ns, inode]
    pages: int
    due: str | None = None  # ISO moment the next future-dated entry is published
    warnings: list[list[object]] = field(default_factory=list)  # see warning_records
    notes: list[str] = field(default_factory=list)
    base_url: str = ""
    inputs: dict[str, str] = field(default_factory=dict)  # see Inputs.files
    inputs_taken_ns: int = 0

    def known_inputs(self) -> Inputs:
        """The input files as this stamp's build found them, for the next fingerprint."""
        return Inputs(self.fingerprint, self.inputs, self.inputs_taken_ns)

    def still_valid(self, fingerprint: str, now: dt.datetime, out_root: Path) -> bool:
        """Same inputs, no entry fallen due, and the output folder exactly as written."""
        if fingerprint != self.fingerprint:
            return False
        if self.due is not None and now >= dt.datetime.fromisoformat(self.due):
            return False
        return _outputs_intact(out_root, self.outputs)

    def diagnostics(self) -> list[Diagnostic]:
        return [
            Diagnostic(str(path), line, str(message), Severity.WARNING,  # type: ignore[arg-type]
                       hint, source_line)  # type: ignore[arg-type]
            for path, line, message, hint, source_line in self.warnings
        ]


# A file changed within this long before the last fingerprint was taken may change again
# without its size or modification time showing it (a coarse file clock): its bytes are
# always hashed again, as git does for "racily clean" files.
RACY_NS = 2_000_000_000


@dataclass
class Inputs:
    """A fingerprint of every input file and what it took to make it.

    ``files`` maps each file's path to ``"size mtime_ns inode hash"`` (the hash of its
    bytes), and ``taken_ns`` is when the files were looked at: the next fingerprint
    re-reads only files whose size, time or inode differ, or that changed shortly before
    ``taken_ns``. One string per file, not a list of four values: a build holds them to
    the end, 100,000 and more (a list took 15 MB more at 100,000 checks).
    """

    digest: str
    files: dict[str, str] = field(default_factory=dict)
    taken_ns: int = 0

    def digests(self) -> dict[str, str]:
        """Path → :func:`~generator.cache.file_digest` of every file looked at."""
        return {path: record.rpartition(" ")[2] for path, record in self.files.items()}


def fingerprint(folders: list[Path], settings: dict[str, object],
                known: Inputs | None = None) -> Inputs:
    """A hash of every file's path and bytes under ``folders``, plus ``settings``.

    Files ``known`` from the last fingerprint with the same size, modification time and
    inode (and not changed just before it was taken) count by their recorded hash,
    without being read.
    """
    taken_ns = time.time_ns()
    trusted_before = known.taken_ns - RACY_NS if known is not None else 0
    previous = known.files if known is not None else {}
    files: dict[str, str] = {}
    digest = hashlib.blake2b(digest_size=20)
    digest.update(json.dumps({**settings, "factsite": code_version(),
                              "stamp": STAMP_VERSION}, sort_keys=True, default=str).encode())
    for folder in folders:
        digest.update(f"\0folder {folder}\0".encode())
        root = str(folder)
        # Plain strings, not Path objects: this looks at every input file on every build.
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            dirnames.sort()
            inside = dirpath[len(root):].strip(os.sep).replace(os.sep, "/")
            for name in sorted(filenames):
                relpath = f"{inside}/{name}" if inside else name
                digest.update(f"\0{relpath}\0".encode())
                path = os.path.join(dirpath, name)
                record = _file_record(path, previous.get(path), trusted_before)
                if record is None:
                    digest.update(b"\0unreadable")
                else:
                    files[path] = record
                    digest.update(record.rpartition(" ")[2].encode())
    return Inputs(digest.hexdigest(), files, taken_ns)


def _file_record(path: str, known: str | None, trusted_before: int) -> str | None:
    """``"size mtime_ns inode hash"`` of the file at ``path``; ``None`` if unreadable."""
    try:
        info = os.stat(path)
        identity = f"{info.st_size} {info.st_mtime_ns} {info.st_ino} "
        # ``known`` was read from the stamp file: anything but what it wrote is ignored.
        if (isinstance(known, str) and known.startswith(identity)
                and info.st_mtime_ns < trusted_before):
            return known
        with open(path, "rb") as file:
            data = file.read()
    except OSError:
        return None
    return identity + file_digest(data)


def record_outputs(out_root: Path, produced: set[str],
                   known: Callable[[str], tuple[int, int, int] | None] = lambda _: None,
                   ) -> dict[str, list[int]]:
    """(size, mtime_ns, inode) of every file ``produced``: ``known(relpath)`` where it
    gives one (a file the build kept after checking its identity), else looked up."""
    outputs = {}
    base = str(out_root) + os.sep  # strings, not Path objects: every file of the site
    for relpath in sorted(produced):
        identity = known(relpath)
        if identity is None:
            info = os.stat(base + relpath)
            identity = (info.st_size, info.st_mtime_ns, info.st_ino)
        outputs[relpath] = list(identity)
    return outputs


def _outputs_intact(out_root: Path, outputs: dict[str, list[int]]) -> bool:
    """Exactly the recorded files, untouched: no file edited, removed, added or linked."""
    try:
        if _files_in(out_root, outputs.keys()) != outputs.keys():
            return False
        # The inode catches a file replaced by a copy, or reached through a link now.
        base = str(out_root) + os.sep
        for relpath, recorded in outputs.items():
            info = os.stat(base + relpath)
            if [info.st_size, info.st_mtime_ns, info.st_ino] != recorded:
                return False
    except OSError:
        return False
    return True


def _files_in(root: Path, known: Iterable[str]) -> set[str]:
    """Files and links under ``root``, as the writer walks them (``walk_output``): a
    top-level dot entry is looked into only if the site wrote one there (``known``)."""
    return {inside + item.name for inside, items in walk_output(root, dot_names(known))
            for item in items if not item.is_dir(follow_symlinks=False)}


def load(path: Path) -> Stamp | None:
    """The stamp at ``path``, or ``None`` when missing, unreadable or not as :func:`save`
    writes it (never trusted then)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.pop("version", None) != STAMP_VERSION:
            return None
        stamp = Stamp(**data)
        return stamp if _well_formed(stamp) else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def _well_formed(stamp: Stamp) -> bool:
    """Whether each field the next build uses has the shape :func:`save` gives it: a
    stamp damaged or edited by hand is ignored, not a reason for a traceback. (The
    records of outputs and inputs are only compared with what a build finds, so a
    wrong one is a difference, not an error.)"""
    if stamp.due is not None:
        due = dt.datetime.fromisoformat(stamp.due)  # a ValueError or TypeError: damaged
        if due.tzinfo is None:
            return False
    return (isinstance(stamp.fingerprint, str) and isinstance(stamp.pages, int)
            and isinstance(stamp.base_url, str) and isinstance(stamp.inputs_taken_ns, int)
            and isinstance(stamp.outputs, dict) and isinstance(stamp.inputs, dict)
            and isinstance(stamp.notes, list) and isinstance(stamp.warnings, list)
            and all(isinstance(note, str) for note in stamp.notes)
            and all(isinstance(w, list) and len(w) == 5 for w in stamp.warnings))


def save(path: Path, stamp: Stamp) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    # vars(), not asdict(): the fields are plain JSON values already, and asdict's deep
    # copy of 20,000 output records is most of the time a stamp takes to save.
    with open(tmp, "w", encoding="utf-8") as file:
        _write_json(file, {"version": STAMP_VERSION, **vars(stamp)})
    os.replace(tmp, path)


def _write_json(file: TextIO, value: dict[str, object], batch: int = 1000) -> None:
    """Write exactly ``json.dumps(value)``, its large dicts and lists (the output files
    and inputs of a large site, its warnings) encoded ``batch`` items at a time: the
    text of a whole stamp, made at once, was the peak of a build's memory (120 MB at
    100,000 checks, in as many small strings as it has numbers and names)."""
    file.write("{")
    for number, (key, item) in enumerate(value.items()):
        file.write(f"{', ' if number else ''}{json.dumps(key)}: ")
        if isinstance(item, dict | list) and len(item) > batch:
            is_dict = isinstance(item, dict)
            pieces = iter(item.items() if is_dict else item)
            file.write("{" if is_dict else "[")
            first = True
            while part := list(itertools.islice(pieces, batch)):
                file.write(("" if first else ", ")
                           + json.dumps(dict(part) if is_dict else part)[1:-1])
                first = False
            file.write("}" if is_dict else "]")
        else:
            file.write(json.dumps(item))
    file.write("}")


def forget(path: Path) -> None:
    """Drop the stamp: the next build is a full one (after a failed build, say)."""
    path.unlink(missing_ok=True)


def warning_records(items: list[Diagnostic]) -> list[list[object]]:
    """[path, line, message, hint, source line] of each warning: lists, not dicts (a
    stamp of 100,000 checks may hold 120,000 warnings)."""
    return [[d.path, d.line, d.message, d.hint, d.source_line]
            for d in items if d.severity is Severity.WARNING]
