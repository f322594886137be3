"""The single place that writes the built site.

A build hands every output file to a sink. :class:`OutputWriter` stages the files whose
bytes differ from what the output folder already holds, and only when the whole site has
rendered does :meth:`OutputWriter.commit` move them into place and remove the files the
site no longer produces. A build that fails calls :meth:`OutputWriter.abort` and the
previous output stays exactly as it was. Unchanged files are never rewritten, so their
modification times stay stable for rsync and CI caches. Into an output folder that does
not exist yet (a first build, a CI build), files are written in place at once: there is
no earlier site to protect, and a failed build removes the folder. :class:`NullSink`
takes the same calls and writes nothing (``factsite check``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

STAGING = ".factsite-staging"
# Marks a folder as factsite's output: only such a folder (or an empty one) has files
# removed, so a mistyped -o can never wipe a folder of other files. It also names the
# top-level entries starting with a dot that the site wrote (see walk_output).
MARKER = ".factsite-output"
_MARKER_TEXT = "This folder is built by factsite; its files are replaced on every build.\n"
_MARKER_DOTS = "The site's own entries whose names start with a dot (others are left alone):\n"


class UnsafeOutput(Exception):
    """The output folder or an output path would write outside where it may."""


@dataclass
class WriteStats:
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    changed: list[str] = field(default_factory=list)  # files written or removed, sorted

    @property
    def total(self) -> int:
        return self.written + self.unchanged


def check_relpath(relpath: str) -> str:
    """Refuse any output path that is absolute or climbs out of the output folder."""
    # The common case, a plain "a/b/c.html", without building a path object (this runs
    # for every file of the site); anything else is judged by the rules below.
    if relpath and "\\" not in relpath and "\0" not in relpath and not any(
            part in ("", ".", "..") for part in relpath.split("/")):
        return relpath
    path = PurePosixPath(relpath)
    if (
        path.is_absolute()
        or not path.parts
        or any(p in ("..", "", ".") for p in path.parts)
        or "\\" in relpath
        or "\0" in relpath
    ):
        raise UnsafeOutput(f"refusing to write output path '{relpath}'")
    return path.as_posix()


def check_output_folder(out_dir: Path, protected: list[Path]) -> Path:
    """The real path of ``out_dir``, if a build may write there; else :class:`UnsafeOutput`.

    Refused: a folder holding, or inside, one of the ``protected`` source folders, and a
    folder of other files that no factsite build made.
    """
    root = Path(os.path.realpath(out_dir.absolute()))
    for path in protected:
        real = Path(os.path.realpath(path))
        if root == real or real.is_relative_to(root):
            raise UnsafeOutput(
                f"output folder {out_dir} contains {path}; building there would delete it")
        if root.is_relative_to(real):
            raise UnsafeOutput(f"output folder {out_dir} is inside {path}; choose a "
                               "folder outside the site's sources")
    if root.is_dir() and not (root / MARKER).exists() and any(
            not p.name.startswith(".") for p in root.iterdir()):
        raise UnsafeOutput(
            f"output folder {out_dir} is not empty and was not built by factsite; "
            "refusing to delete its files (empty it or choose another folder)")
    return root


def walk_output(root: Path, site_dots: Container[str]
                ) -> Iterator[tuple[str, list[os.DirEntry[str]]]]:
    """Each folder of the output folder ``root`` with its entries, as ("" for the root or
    "a/b/", entries); a link to a folder is an entry, never entered.

    A top-level entry whose name starts with a dot is left out unless it is one of
    ``site_dots``: those are the site's own (``.well-known``, ``.nojekyll`` from its
    static files), the others are not (a publishing branch's ``.git``, the writer's
    marker and staging folder). Plain ``os.scandir`` over strings: this looks at every
    file of the site on every build, and a directory entry already says whether it is
    a folder or a link.
    """
    pending = [""]
    while pending:
        inside = pending.pop()
        with os.scandir(f"{root}/{inside}" if inside else root) as scan:
            items = [item for item in scan
                     if inside or item.name[0] != "." or item.name in site_dots]
        pending += [inside + item.name + "/" for item in items
                    if item.is_dir(follow_symlinks=False)]
        yield inside, items


def dot_names(relpaths: Iterable[str]) -> set[str]:
    """The top-level names starting with a dot among output files ``relpaths``."""
    return {relpath.partition("/")[0] for relpath in relpaths if relpath[0] == "."}


def _marked_dots(root: Path) -> set[str]:
    """The site's own dot entries the marker in ``root`` names (none if unreadable)."""
    try:
        text = (root / MARKER).read_text(encoding="utf-8")
    except (OSError, UnicodeError):
        return set()
    _, found, names = text.partition(_MARKER_DOTS)
    return {name for name in names.splitlines() if found and name.startswith(".")
            and "/" not in name and name not in (MARKER, STAGING, ".", "..")}


def _remove(path: Path) -> None:
    """Remove what is at ``path``: a folder with its files, a file, or a link (removed
    itself, never followed: it may lead outside the output folder)."""
    try:
        if stat.S_ISDIR(os.lstat(path).st_mode):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _write_all(path: Path | str, parts: Iterable[bytes], make_folder: bool = False) -> None:
    """Write ``parts`` to the file at ``path``; with ``make_folder``, make its folder
    first if it is missing."""
    try:
        file = open(path, "wb")  # noqa: SIM115 (closed just below)
    except FileNotFoundError:
        if not make_folder:
            raise
        os.makedirs(os.path.dirname(path), exist_ok=True)
        file = open(path, "wb")  # noqa: SIM115
    with file:
        for part in parts:
            file.write(part)


class NullSink:
    """Accepts the site's files and writes nothing; records which were produced."""

    def __init__(self) -> None:
        self.produced: set[str] = set()
        self.fresh = False  # nothing is written, so nothing to keep is missing

    def write(self, relpath: str, data: bytes) -> None:
        self.produced.add(check_relpath(relpath))

    def write_parts(self, relpath: str, parts: Iterable[bytes]) -> None:
        self.produced.add(check_relpath(relpath))
        for _ in parts:  # made all the same: making them may report errors
            pass

    def copy(self, relpath: str, source: Path) -> None:
        self.produced.add(check_relpath(relpath))

    def identity(self, relpath: str) -> tuple[int, int, int] | None:
        return None  # nothing is written

    def can_keep(self, relpath: str, recorded: tuple[int, int, int] | None) -> bool:
        """Always: nothing is written, so a file unchanged in its inputs need not be made
        again whatever the output folder holds (a check, or a build with errors)."""
        return True

    def keep(self, relpath: str) -> None:
        self.produced.add(check_relpath(relpath))

    def survey(self) -> None:
        """Nothing to list: nothing is written."""

    def commit(self) -> WriteStats:
        return WriteStats(unchanged=len(self.produced))

    def abort(self) -> None:
        self.produced.clear()


class OutputWriter:
    """Writes a site into ``out_dir`` as a whole, or not at all."""

    def __init__(self, out_dir: Path, protected: list[Path] | None = None) -> None:
        self.out_dir = out_dir.absolute()
        self.root = check_output_folder(out_dir, protected or [])
        self.staging = self.root / STAGING
        self.produced: set[str] = set()
        self.kept: set[str] = set()  # files taken as the output folder holds them (keep())
        # Written by this build: output file → its name in the staging folder (empty in
        # a fresh folder: see below, all it produces is written). Staged files lie side
        # by side there, by number, not in a copy of the site's folders: a site of
        # 13,000 pages in as many folders would cost 13,000 more folders to make and
        # remove (a quarter of a rebuild that rewrites every page).
        self.staged: dict[str, str] = {}
        # A folder this build creates (fresh) holds no earlier site to protect: files go
        # straight in (a failed build removes the folder again), and committing moves
        # nothing. Nor does it hold a file to keep: every page is rendered, and the
        # caller can know it from the start (many can then render on forks).
        self.fresh = not self.root.exists()
        self._clear_staging()  # left by a build that was killed, or planted
        # The dot entries the last build wrote: removed like any file of the site once
        # it no longer produces them.
        self._dots_before = _marked_dots(self.root)
        # Per-folder answers, so 16,000 files cost one check per folder, not per file.
        self._real_dirs: dict[str, bool] = {}
        self._marked = False  # a fresh folder has been given its marker
        self._placed_dirs: set[str] = set()  # output folders the commit has made sure of
        self._published: list[str] = []  # files placed ahead of the commit (publish())
        self._removed_early: list[str] = []  # and those it removed
        # What survey() found: the dot entries it looked into, the files not produced
        # then and the folders holding none; the commit removes the stale ones.
        self._survey: tuple[frozenset[str], list[str], set[str]] | None = None

    def _claim(self, relpath: str) -> str:
        """Check ``relpath`` and count it produced; each path may be produced once."""
        relpath = check_relpath(relpath)
        if relpath.split("/", 1)[0] in (STAGING, MARKER):  # the writer's own
            raise UnsafeOutput(f"refusing to write output path '{relpath}'")
        if relpath in self.produced:
            raise UnsafeOutput(f"two files of the site would be written to '{relpath}'")
        self.produced.add(relpath)
        return relpath

    def write(self, relpath: str, data: bytes) -> None:
        """Take one file of the site; it is staged only if its bytes are new."""
        relpath = self._claim(relpath)
        if self.fresh:
            self._write_direct(relpath, (data,))
        elif not self._same_as_output(relpath, data):
            self._stage(relpath, (data,))

    def write_parts(self, relpath: str, parts: Iterable[bytes]) -> None:
        """Take one file of the site made of ``parts``, written as they come: a large
        file (the ClaimReview data feed, 90 MB at 100,000 checks) is never held whole.
        Like :meth:`write`, it is kept staged only if its bytes are new."""
        relpath = self._claim(relpath)
        if self.fresh:
            self._write_direct(relpath, parts)
            return
        staged = self._stage(relpath, parts)
        if self._same_as_output(relpath, staged):
            staged.unlink()  # nothing to commit
            del self.staged[relpath]

    def _stage(self, relpath: str, parts: Iterable[bytes]) -> Path:
        """Write a file into the staging folder, to be moved to ``relpath`` on commit."""
        if not self._staging_made:
            # Made here, never found: a link put in its place since the build began
            # (to carry staged files outside the output folder) makes this fail.
            try:
                self.staging.mkdir()
            except FileExistsError:
                raise UnsafeOutput(f"{self.staging} appeared while the site was being "
                                   "built; refusing to write into it") from None
            self._staging_made = True
        name = self.staged[relpath] = str(len(self.staged))
        path = self.staging / name
        _write_all(path, parts)
        return path

    def _clear_staging(self) -> None:
        """Remove the staging folder (or whatever stands at its name); the next file
        staged makes it afresh."""
        _remove(self.staging)
        self._staging_made = False

    def identity(self, relpath: str) -> tuple[int, int, int] | None:
        """(size, mtime_ns, inode) of the output folder's own regular file at ``relpath``;
        ``None`` when there is none (missing, a link, or below a linked folder)."""
        info = self._own_file(relpath)
        return (info.st_size, info.st_mtime_ns, info.st_ino) if info is not None else None

    def can_keep(self, relpath: str, recorded: tuple[int, int, int] | None) -> bool:
        """Whether the output folder holds its own file at ``relpath`` exactly as a build
        ``recorded`` it after committing (:meth:`identity`): untouched since, it may be
        kept (:meth:`keep`) instead of being written again."""
        return recorded is not None and self.identity(relpath) == recorded

    def _own_file(self, relpath: str) -> os.stat_result | None:
        """The status of the output folder's own regular file at ``relpath``, if any.

        Plain strings and one ``lstat`` per file (and per folder, remembered): this runs
        for every file of the site on every build.
        """
        if not self._is_real_dir(relpath.rpartition("/")[0]):
            return None
        try:
            info = os.lstat(f"{self.root}/{relpath}")
        except OSError:
            return None
        return info if stat.S_ISREG(info.st_mode) else None

    def keep(self, relpath: str) -> None:
        """Take one file of the site as the output folder already holds it.

        For a file the caller knows is unchanged (see :meth:`identity`): it is neither
        read nor written, and not removed as stale. It is listed in ``kept``.
        """
        self.kept.add(self._claim(relpath))

    def current(self, relpath: str) -> bytes:
        """The bytes of a file this build produced at ``relpath``, written or kept: from
        the staging folder if staged there, else from the output folder."""
        relpath = check_relpath(relpath)
        if relpath not in self.produced:
            raise KeyError(relpath)
        if relpath in self.staged:  # (a fresh folder stages nothing)
            return (self.staging / self.staged[relpath]).read_bytes()
        return (self.root / relpath).read_bytes()

    def _write_direct(self, relpath: str, parts: Iterable[bytes]) -> None:
        if not self._marked:  # the marker first: a build killed midway leaves a folder
            self.root.mkdir(parents=True, exist_ok=True)  # the next build may use
            self._write_marker()
            self._marked = True
        # Folders are made when a file finds its own missing: remembering which were
        # made took 15 MB at 100,000 checks (a folder per page).
        _write_all(f"{self.root}/{relpath}", parts, make_folder=True)

    def _write_marker(self, dots: Iterable[str] = ()) -> None:
        """Write the marker, naming ``dots`` (the site's own dot entries), unless it
        says exactly that already."""
        marker = self.root / MARKER
        text = _MARKER_TEXT + (_MARKER_DOTS + "".join(f"{d}\n" for d in sorted(dots))
                               if dots else "")
        with contextlib.suppress(OSError, UnicodeError):
            if marker.read_text(encoding="utf-8") == text:
                return
        marker.write_text(text, encoding="utf-8")

    def copy(self, relpath: str, source: Path) -> None:
        self.write(relpath, source.read_bytes())

    def _same_as_output(self, relpath: str, new: bytes | Path) -> bool:
        """Whether the output folder's own file at ``relpath`` holds the bytes ``new``
        (given, or those of a staged file, compared a megabyte at a time)."""
        # Through a link (the file's or a folder's) is not in the output: stage it anew.
        info = self._own_file(relpath)
        try:
            size = len(new) if isinstance(new, bytes) else new.stat().st_size
            if info is None or info.st_size != size:
                return False
            with open(f"{self.root}/{relpath}", "rb") as file:
                if isinstance(new, bytes):
                    return file.read() == new
                with open(new, "rb") as staged:
                    while chunk := staged.read(1 << 20):
                        if chunk != file.read(1 << 20):
                            return False
                return True
        except OSError:
            return False

    def _is_real_dir(self, folder: str) -> bool:
        """Whether ``folder`` (relative, "" for the root) is a folder of the output
        itself, reached through no link."""
        known = self._real_dirs.get(folder)
        if known is None:
            # The root is a real path (check_output_folder); below it, a real folder is a
            # folder, not a link, inside a real folder: one lstat per folder, remembered.
            if not folder:
                known = self.root.is_dir()
            elif not self._is_real_dir(folder.rpartition("/")[0]):
                known = False
            else:
                try:
                    known = stat.S_ISDIR(os.lstat(f"{self.root}/{folder}").st_mode)
                except OSError:
                    known = False
            self._real_dirs[folder] = known
        return known

    def abort(self) -> None:
        """Forget the staged files; the output folder is as it was before the build."""
        self._clear_staging()
        if self.fresh:
            shutil.rmtree(self.root, ignore_errors=True)
        self.staged.clear()

    def survey(self) -> None:
        """List the output folder's files now, for the commit to find the stale ones
        among them without walking the folder then. A build calls this while it waits
        for Pagefind: the walk (0.1 s over 24,000 files) is off the path of a rebuild.
        Nothing is written into the folder before the commit (files are staged), so the
        list stays true; if the site writes a top-level dot entry that it did not write
        the last time (``.well-known``), the commit walks the folder again."""
        if not self.fresh:
            dots = frozenset(self._dots_before | dot_names(self.produced))
            self._survey = dots, *self._unproduced(dots)

    def publish(self, stale: Iterable[str] = ()) -> WriteStats:
        """Move the files staged so far into place now, ahead of the rest of the build,
        and remove those of ``stale`` (files the caller knows the last build wrote) that
        this build has not produced. Says which files it placed and removed; the commit
        removes the other stale files.

        For a preview (``factsite serve``) that shows the new pages while the search
        index is still being made. Until :meth:`commit`, the folder then holds neither
        the old site nor the new one, and a build that fails can no longer leave it as
        it was: never for a site that is published.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        if self.fresh:  # everything is in place already
            return WriteStats(written=len(self.produced), changed=sorted(self.produced))
        placed = sorted(self.staged)
        self._place_staged()
        self._published += placed
        removed = []
        for relpath in sorted(set(stale) - self.produced):
            if self._own_file(check_relpath(relpath)) is not None:  # not through a link
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f"{self.root}/{relpath}")
                    removed.append(relpath)
        self._removed_early += removed
        return WriteStats(written=len(placed), unchanged=len(self.produced) - len(placed),
                          removed=len(removed), changed=sorted([*placed, *removed]))

    def commit(self) -> WriteStats:
        """Remove what the site no longer produces, then move the staged files into place."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.fresh:  # everything is in place already
            self._write_marker(dot_names(self.produced))
            self._real_dirs.clear()
            return WriteStats(written=len(self.produced), changed=sorted(self.produced))
        written = {*self.staged, *self._published}
        stats = WriteStats(written=len(written), unchanged=len(self.produced) - len(written))
        dots = dot_names(self.produced)
        removed = [*self._removed_early, *self._remove_stale(self._dots_before | dots)]
        stats.removed = len(removed)
        stats.changed = sorted({*written, *removed})  # lets `serve` reload only what changed
        self._place_staged()
        self._clear_staging()
        self._write_marker(dots)
        self._published.clear()
        self._removed_early.clear()
        return stats

    def _place_staged(self) -> None:
        """Move every staged file to its place in the output folder."""
        for relpath in self.staged:
            self._make_parents(relpath)
            target = f"{self.root}/{relpath}"
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISDIR(os.lstat(target).st_mode):  # a folder where a file goes
                    shutil.rmtree(target)
            os.replace(self.staging / self.staged[relpath], target)
        self.staged.clear()
        self._real_dirs.clear()  # folders were made and links replaced
        self._placed_dirs.clear()

    def _make_parents(self, relpath: str) -> None:
        """Make sure of each folder above ``relpath`` in the output, once per commit: a
        stale file or a link where a folder must go is replaced, never followed."""
        parts = relpath.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            folder = "/".join(parts[:depth])
            if folder in self._placed_dirs:
                continue
            path = f"{self.root}/{folder}"
            try:
                is_dir = stat.S_ISDIR(os.lstat(path).st_mode)  # a link is not
                if not is_dir:
                    os.unlink(path)
            except FileNotFoundError:
                is_dir = False
            if not is_dir:
                os.mkdir(path)
            self._placed_dirs.add(folder)

    def _remove_stale(self, dots: set[str]) -> list[str]:
        """Delete files and links the new site does not produce, then empty folders.

        Top-level entries whose names start with a dot are left alone unless the site
        wrote them, this time or the last (``.well-known`` from its static files), so an
        output folder can be a checkout of a publishing branch (``.git``): ``dots`` are
        the site's.
        """
        survey, self._survey = self._survey, None
        if survey is not None and dots <= survey[0]:
            _, files, emptied = survey
        else:
            files, emptied = self._unproduced(dots)
        removed: list[str] = []
        for relpath in files:
            if relpath in self.produced:
                continue  # produced after the survey
            try:
                os.unlink(f"{self.root}/{relpath}")
                removed.append(relpath)
            except FileNotFoundError:
                pass  # gone since the survey; its folder may be empty now
            folders = relpath.split("/")[:-1]
            emptied.update("/".join(folders[: n + 1]) for n in range(len(folders)))
        # Deepest first, so a folder left empty by its emptied sub-folders goes too.
        for folder in sorted(emptied, key=lambda p: p.count("/"), reverse=True):
            with contextlib.suppress(OSError):
                os.rmdir(f"{self.root}/{folder}")  # only succeeds when empty
        return removed

    def _unproduced(self, dots: Container[str]) -> tuple[list[str], set[str]]:
        """The files and links in the output folder that the site has not produced (so
        far), and its folders holding no file (perhaps nothing but empty folders)."""
        files: list[str] = []
        fileless: set[str] = set()
        for inside, items in walk_output(self.root, dots):
            has_files = False
            for item in items:
                if item.is_dir(follow_symlinks=False):
                    continue
                has_files = True  # a file or a link (to a file, a folder or nothing)
                if inside + item.name not in self.produced:
                    files.append(inside + item.name)
            if inside and not has_files:
                fileless.add(inside[:-1])
        return files, fileless
