"""The build stamp: proof that nothing changed since the last successful build.

A stamp records a fingerprint of every input (the bytes of every file under ``content/``
and the templates, the options, the versions of factsite and its renderers), the size and
modification time of every file the build wrote, the warnings it reported and the moment
the next future-dated entry falls due. When all of that still holds, the build is done
already: nothing is rendered and nothing is written. Any difference, however small,
means a full build, so there is no guessing about what depends on what.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import __version__
from .diagnostics import Diagnostic, Severity
from .markdown import RENDERER_VERSION

STAMP_VERSION = 3


@dataclass
class Stamp:
    fingerprint: str
    outputs: dict[str, list[int]]  # relpath → [size, mtime_ns, inode]
    pages: int
    due: str | None = None  # ISO moment the next future-dated entry is published
    warnings: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    base_url: str = ""

    def still_valid(self, fingerprint: str, now: dt.datetime, out_root: Path) -> bool:
        """Same inputs, no entry fallen due, and the output folder exactly as written."""
        if fingerprint != self.fingerprint:
            return False
        if self.due is not None and now >= dt.datetime.fromisoformat(self.due):
            return False
        return _outputs_intact(out_root, self.outputs)

    def diagnostics(self) -> list[Diagnostic]:
        return [
            Diagnostic(str(w["path"]), w["line"], str(w["message"]),  # type: ignore[arg-type]
                       Severity.WARNING, w.get("hint"), w.get("source_line"))  # type: ignore[arg-type]
            for w in self.warnings
        ]


def fingerprint(folders: list[Path], settings: dict[str, object]) -> str:
    """A hash of every file's path and bytes under ``folders``, plus ``settings``."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(json.dumps({**settings, "factsite": __version__, "markdown": RENDERER_VERSION,
                              "stamp": STAMP_VERSION}, sort_keys=True, default=str).encode())
    for folder in folders:
        digest.update(f"\0folder {folder}\0".encode())
        root = str(folder)
        # Plain strings, not Path objects: this reads every input file on every build.
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            dirnames.sort()
            inside = dirpath[len(root):].strip(os.sep).replace(os.sep, "/")
            for name in sorted(filenames):
                relpath = f"{inside}/{name}" if inside else name
                digest.update(f"\0{relpath}\0".encode())
                try:
                    with open(os.path.join(dirpath, name), "rb") as file:
                        digest.update(file.read())
                except OSError:
                    digest.update(b"\0unreadable")
    return digest.hexdigest()


def record_outputs(out_root: Path, produced: set[str]) -> dict[str, list[int]]:
    outputs = {}
    for relpath in sorted(produced):
        info = (out_root / relpath).stat()
        outputs[relpath] = [info.st_size, info.st_mtime_ns, info.st_ino]
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
    """Files and links under ``root``; top-level dot entries the site did not write (a
    publishing branch's ``.git``) are not the site's and are skipped, as the writer does.

    Plain ``os.scandir`` over strings: this runs on every no-change rebuild, over every
    file of the site.
    """
    known = set(known)
    found: set[str] = set()
    pending = [("", str(root))]
    while pending:
        prefix, folder = pending.pop()
        with os.scandir(folder) as entries:
            for item in entries:
                if not prefix and item.name.startswith(".") and item.name not in known:
                    continue
                relpath = prefix + item.name
                if item.is_dir(follow_symlinks=False):
                    pending.append((relpath + "/", item.path))
                else:  # a file, or a link (to a file or a folder): never followed
                    found.add(relpath)
    return found


def load(path: Path) -> Stamp | None:
    """The stamp at ``path``, or ``None`` when missing or unreadable (never trusted then)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Stamp(**data) if data.pop("version", None) == STAMP_VERSION else None
    except (OSError, ValueError, TypeError):
        return None


def save(path: Path, stamp: Stamp) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": STAMP_VERSION, **asdict(stamp)}), encoding="utf-8")
    os.replace(tmp, path)


def forget(path: Path) -> None:
    """Drop the stamp: the next build is a full one (after a failed build, say)."""
    path.unlink(missing_ok=True)


def warning_records(items: list[Diagnostic]) -> list[dict[str, object]]:
    return [{"path": d.path, "line": d.line, "message": d.message, "hint": d.hint,
             "source_line": d.source_line} for d in items if d.severity is Severity.WARNING]
