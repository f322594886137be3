"""Caches of parsed and rendered content, keyed by a hash of the bytes they came from.

A key covers everything the cached value depends on (the input bytes, the relevant
settings and the generator's version), so a hit is always safe to use and nothing ever
needs invalidating by hand.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import os
import pickle
import sqlite3
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import __version__

# The libraries whose behaviour shapes what factsite makes (module, distribution name
# as its metadata folder spells it, lowercased): a new version of any may change a page.
LIBRARIES = (("markdown_it", "markdown_it_py"), ("mdit_py_plugins", "mdit_py_plugins"),
             ("jinja2", "jinja2"), ("markupsafe", "markupsafe"), ("yaml", "pyyaml"))


@functools.cache
def code_version() -> str:
    """A hash of factsite's own Python files and of the installed versions of
    :data:`LIBRARIES`: stricter than the version number, so a changed generator (a
    developer's edit, a patched install, an upgraded parser) never reuses old values."""
    package = Path(__file__).resolve().parent
    digest = hashlib.blake2b(__version__.encode(), digest_size=16)
    for name in sorted(os.listdir(package)):
        if name.endswith(".py"):
            digest.update(name.encode() + b"\0")
            digest.update((package / name).read_bytes())
    for found in library_versions():
        digest.update(found.encode() + b"\0")
    return digest.hexdigest()


def library_versions() -> list[str]:
    """The metadata folders (``jinja2-3.1.6.dist-info``: name and version) of the
    installed :data:`LIBRARIES`, found beside each module without importing it.

    Not ``importlib.metadata``: importing it alone takes 30 ms, a tenth of a rebuild
    with nothing to do, which also checks this.
    """
    found: list[str] = []
    listed: dict[str, list[str]] = {}
    for module, distribution in LIBRARIES:
        spec = importlib.util.find_spec(module)
        where = (spec.submodule_search_locations or [None])[0] if spec else None
        if where is None:
            found.append(f"{module} not found")
            continue
        folder = os.path.dirname(where)
        if folder not in listed:
            listed[folder] = sorted(os.listdir(folder))
        found += [name for name in listed[folder]  # "{name}-{version}[-…].dist-info"
                  if name.endswith((".dist-info", ".egg-info"))
                  and name.split("-", 1)[0].lower().replace(".", "_") == distribution]
    return found


def file_digest(data: bytes) -> str:
    """A short hash of a file's bytes (the build stamp records one per input file)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def content_key(kind: str, *parts: bytes) -> str:
    """A stable key for ``kind`` of value derived from ``parts`` (and factsite's code)."""
    digest = hashlib.sha256(f"{kind}\0{code_version()}\0".encode())
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return f"{kind}:{digest.hexdigest()}"


class MemoryCache:
    """An in-process cache; kept across rebuilds by a long-running process."""

    forgets_unused = False  # a value stays until the process ends

    def __init__(self) -> None:
        self._items: dict[str, Any] = {}

    def get(self, key: str) -> Any | None:
        return self._items.get(key)

    def has(self, key: str) -> bool:
        """Whether ``key`` holds a value, without reading it."""
        return key in self._items

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The values of those of ``keys`` that are cached, by key."""
        return {key: self._items[key] for key in keys if key in self._items}

    def put(self, key: str, value: Any) -> None:
        self._items[key] = value

    def keep(self, key: str) -> None:
        """Nothing to do: values are never dropped."""

    def __len__(self) -> int:
        return len(self._items)

    def flush(self) -> None:
        """Nothing to write: the same interface as :class:`DiskCache`."""

    def close(self) -> None:
        """Nothing to write: the same interface as :class:`DiskCache`."""


CACHE_FILE = "cache.sqlite"  # a DiskCache's file in its cache folder


def seed_cache(source_dir: Path, target_dir: Path) -> None:
    """Start the disk cache in ``target_dir`` as a copy of the one in ``source_dir``, if it
    has none yet. SQLite's backup makes the copy consistent even while a build writes the
    source; a copy that fails is removed (the cache then starts empty, as without one)."""
    source, target = source_dir / CACHE_FILE, target_dir / CACHE_FILE
    if target.exists() or not source.is_file():
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.closing(sqlite3.connect(source)) as read, \
                contextlib.closing(sqlite3.connect(target)) as write:
            read.backup(write)
    except (sqlite3.Error, OSError):
        with contextlib.suppress(OSError):
            target.unlink()


class NoCache:
    """Keeps nothing: for a build without a cache, where holding every parsed and
    rendered value until the end would only cost memory (about 1 GB at 100,000 entries)."""

    forgets_unused = True

    def get(self, key: str) -> Any | None:
        return None

    def has(self, key: str) -> bool:
        return False

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        return {}

    def put(self, key: str, value: Any) -> None:
        pass

    def keep(self, key: str) -> None:
        pass

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


class DiskCache:
    """A cache kept in ``.factsite-cache/cache.sqlite`` between runs.

    Values are pickled, and compressed when large (:data:`COMPRESS_FROM`). A file that
    is corrupt, or was written by another version of factsite, is detected and started
    afresh, never trusted. New values are written in one transaction by :meth:`close`,
    which also drops every entry a successful build did not use, so the cache holds one
    site's worth of values at most.
    """

    SCHEMA = f"factsite-cache 1 {__version__}"
    FLUSH_BYTES = 8 << 20  # new values held in memory before they are written out
    # Smaller values are stored as they are: most are entries (about 5 kB pickled), and
    # decompressing 10,000 of them took 0.35 s of every rebuild, as long as reading and
    # unpickling them, to save 30 MB of disk.
    COMPRESS_FROM = 64 << 10
    # The keys used so far are held in memory this many at a time, then go to a
    # temporary table: a large site uses a few hundred thousand (30 MB at 100,000 checks).
    USED_BATCH = 20_000
    forgets_unused = True  # see close()

    def __init__(self, path: Path) -> None:
        self.path = path
        self._new: dict[str, bytes] = {}
        self._new_bytes = 0
        self._used: set[str] = set()
        self._db = self._open()

    def _open(self) -> sqlite3.Connection | None:
        for attempt in (1, 2):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path)
                db.execute("CREATE TABLE IF NOT EXISTS meta (schema TEXT NOT NULL)")
                db.execute("CREATE TABLE IF NOT EXISTS item (key TEXT PRIMARY KEY, value BLOB)")
                row = db.execute("SELECT schema FROM meta").fetchone()
                if row is None:
                    db.execute("INSERT INTO meta VALUES (?)", (self.SCHEMA,))
                    db.commit()
                elif row[0] != self.SCHEMA:
                    raise sqlite3.DatabaseError(f"foreign cache: {row[0]}")
                return db
            except (sqlite3.Error, OSError):
                with contextlib.suppress(UnboundLocalError, sqlite3.Error):
                    db.close()
                if attempt == 2:
                    return None  # no usable cache: the build just works without one
                with contextlib.suppress(OSError):
                    self.path.unlink()
        return None

    def get(self, key: str) -> Any | None:
        self._use(key)
        if key in self._new:
            return _unpack(self._new[key])
        if self._db is None:
            return None
        try:
            row = self._db.execute("SELECT value FROM item WHERE key = ?", (key,)).fetchone()
            return _unpack(row[0]) if row else None
        except Exception:  # a damaged value is a miss, never an error
            return None

    def has(self, key: str) -> bool:
        """Whether ``key`` holds a value, without reading it (a search bundle is
        megabytes); the value may still turn out damaged when it is read."""
        if key in self._new:
            return True
        if self._db is None:
            return False
        try:
            return self._db.execute("SELECT 1 FROM item WHERE key = ?", (key,)).fetchone() \
                is not None
        except Exception:  # as get(): a damaged cache holds nothing
            return False

    # Keys asked for in one query by get_many (SQLite allows 32,766 parameters).
    MANY = 500

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The values of those of ``keys`` that are cached, by key, as :meth:`get` gives
        them: one query per :data:`MANY` keys (a warm build takes every entry this way:
        one query each took 0.1 s more for 10,000)."""
        found: dict[str, Any] = {}
        asked: list[str] = []
        for key in keys:
            self._use(key)
            if key in self._new:
                found[key] = _unpack(self._new[key])
            else:
                asked.append(key)
        for first in range(0, len(asked) if self._db is not None else 0, self.MANY):
            chunk = asked[first : first + self.MANY]
            try:
                rows = self._db.execute(  # type: ignore[union-attr]
                    f"SELECT key, value FROM item WHERE key IN ({','.join('?' * len(chunk))})",
                    chunk).fetchall()
            except Exception:  # an unreadable database: misses, never an error
                continue
            for key, data in rows:
                with contextlib.suppress(Exception):  # a damaged value is a miss
                    found[key] = _unpack(data)
        return found

    def put(self, key: str, value: Any) -> None:
        self._use(key)
        data = pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
        if len(data) >= self.COMPRESS_FROM:
            data = zlib.compress(data, 1)
        self._new[key] = data
        self._new_bytes += len(data)
        if self._new_bytes > self.FLUSH_BYTES:  # a large site: do not hold it all
            self.flush()

    def keep(self, key: str) -> None:
        """Count ``key``'s value used (so :meth:`close` keeps it) without reading it."""
        self._use(key)

    def _use(self, key: str) -> None:
        self._used.add(key)
        if len(self._used) >= self.USED_BATCH:
            self._record_used()

    def _record_used(self) -> None:
        """Move the used keys held in memory to the connection's temporary table."""
        if self._db is not None:
            try:
                with self._db:
                    self._insert_used()
            except sqlite3.Error:
                with contextlib.suppress(sqlite3.Error):
                    self._db.close()
                self._db = None  # unusable: the rest of this build goes without
        self._used.clear()

    def _insert_used(self) -> None:
        assert self._db is not None
        self._db.execute("CREATE TEMP TABLE IF NOT EXISTS used (key TEXT PRIMARY KEY)")
        self._db.executemany("INSERT OR IGNORE INTO used VALUES (?)",
                             ((key,) for key in self._used))

    def flush(self) -> None:
        """Write the values put so far, so a build that fails later still keeps them."""
        if self._db is None or not self._new:
            return
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO item VALUES (?, ?)",
                                     self._new.items())
            self._new.clear()
            self._new_bytes = 0
        except sqlite3.Error:
            self._db = None  # unusable: the rest of this build goes without

    def close(self, forget_unused: bool = True) -> None:
        """Write new values, forget the ones this build did not use, and close.

        A build that failed passes ``forget_unused=False``: it may have stopped before
        using values (search shards, say) that the next build needs again.
        """
        if self._db is None:
            return
        try:
            with self._db:
                self._db.executemany("INSERT OR REPLACE INTO item VALUES (?, ?)",
                                     self._new.items())
                if forget_unused:
                    self._insert_used()
                    self._db.execute(
                        "DELETE FROM item WHERE key NOT IN (SELECT key FROM temp.used)")
            self._db.close()
        except sqlite3.Error:
            with contextlib.suppress(OSError):
                self.path.unlink()  # next run starts afresh
        finally:
            self._db = None
            self._new.clear()


AnyCache = MemoryCache | NoCache | DiskCache


class MappingWriter:
    """Puts a large mapping into a cache in chunks of ``size`` pairs as they come, so
    neither the whole mapping nor its whole pickle is ever in memory (a pickle of the
    page records of 100,000 checks took 160 MB while it was made). ``tag`` says what
    the mapping was made from: :func:`read_mapping` returns it only for the same tag.
    """

    def __init__(self, cache: AnyCache, slot: str, tag: str, size: int = 5000) -> None:
        self.cache = cache
        self.slot = slot
        self.tag = tag
        self.size = size
        # Marks this mapping's chunks: a head is never read with another run's chunks.
        self.nonce = os.urandom(8).hex()
        self.chunks = 0
        self._chunk: dict[Any, Any] = {}

    def add(self, key: Any, value: Any) -> None:
        self._chunk[key] = value
        if len(self._chunk) >= self.size:
            self._put_chunk()

    def close(self) -> None:
        """Put the last chunk and the head that lists them: only then is it readable."""
        if self._chunk:
            self._put_chunk()
        self.cache.put(self.slot, ("mapping", self.tag, self.nonce, self.chunks))

    def _put_chunk(self) -> None:
        self.cache.put(f"{self.slot}#{self.chunks}", (self.nonce, self._chunk))
        self.chunks += 1
        self._chunk = {}


def read_mapping(cache: AnyCache, slot: str, tag: str) -> dict[Any, Any] | None:
    """The mapping a :class:`MappingWriter` put under ``slot`` with ``tag``; ``None`` if
    there is none, it was made from something else, or a chunk is missing or foreign."""
    head = cache.get(slot)
    if not (isinstance(head, tuple) and len(head) == 4 and head[:2] == ("mapping", tag)):
        return None
    nonce, count = head[2], head[3]
    mapping: dict[Any, Any] = {}
    for number in range(count):
        chunk = cache.get(f"{slot}#{number}")
        if not (isinstance(chunk, tuple) and len(chunk) == 2 and chunk[0] == nonce):
            return None
        mapping.update(chunk[1])
    return mapping


def _unpack(data: bytes) -> Any:
    """A value as :meth:`DiskCache.put` stored it: a pickle (which starts with its
    protocol's 0x80), or a compressed one (a zlib stream starts with 0x78)."""
    return pickle.loads(data if data[:1] == b"\x80" else zlib.decompress(data))
