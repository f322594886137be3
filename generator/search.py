"""Full-text search: a Pagefind index of every published check, built in memory.

This is the only module that imports ``pagefind``. It runs the binary that PyPI's
``pagefind[extended]`` ships (the extended build segments Chinese and Japanese text) as
``pagefind --service`` and speaks its protocol directly: each request is base64-encoded
JSON followed by a comma, and each response comes back the same way on stdout.

Why not the package's ``PagefindIndex`` class: its reader sleeps 0.1 s before every
response (100,000 checks would take three hours) and reads responses with a 2 MiB limit,
too small for the ``GetFiles`` answer of a large site. Here requests are pipelined while
a thread reads the responses, so the binary indexes on one core while Jinja renders on
another, and the finished bundle comes back in memory; nothing is written to disk
except through the build's sink.

    SearchIndex      the running service: add(url, html), files(), reset(), close()
    ShardedIndex     a sink that also indexes the check pages written through it, in
                     shards of a bounded size that merge in the browser
    searchable       the part of a page Pagefind is given (its head and marked content)
    SearchFailed     the binary is missing, cannot run, or failed; the build reports it

Determinism: Pagefind names its chunks by their content hashes, and since 1.3 the word
index and the per-page fragments are byte-identical across runs. Its filter chunks and
its metadata file are not: the binary writes the values of a filter (and the filters,
and the sort keys) in Rust ``HashMap`` order, which is seeded randomly in each process
(upstream issue Pagefind/pagefind#638). :func:`stable_bundle` rewrites exactly those
files in sorted order under names hashed from their new bytes, so the same site gives a
byte-identical bundle. Search results do not change: the order only affects how the
files are laid out, never which pages match.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from .cache import AnyCache, content_key, file_digest

# Pagefind's own search interfaces: the site uses its own small script (search.js), so
# these are not published. Everything else in the bundle is needed by pagefind.js.
UNUSED_BUNDLE_FILES = (
    "pagefind-ui.", "pagefind-modular-ui.", "pagefind-component-ui.", "pagefind-highlight.",
)  # fmt: skip
# The script and WebAssembly that every shard shares: published once, at the root.
SHARED_BUNDLE_FILES = ("pagefind.js", "pagefind-worker.js", "wasm.")
# How long Pagefind may say nothing while the build waits for it. Its slowest answer is
# a shard's bundle (about 2 s for 1,000 pages); one silent this long is stuck, and the
# build fails rather than wait for ever (a CI job would wait for its own time limit).
REPLY_TIMEOUT = 300.0
FIX_HINT = (
    "reinstall it with: pip install --force-reinstall 'pagefind[extended]'; "
    "or set 'search: false' in content/site.yaml to build without search"
)


class SearchFailed(Exception):
    """The Pagefind binary is missing, cannot run, or reported an error."""


class Sink(Protocol):
    produced: set[str]

    def write(self, relpath: str, data: bytes) -> None: ...

    def keep(self, relpath: str) -> None: ...

    def can_keep(self, relpath: str, recorded: tuple[int, int, int] | None) -> bool: ...

    def current(self, relpath: str) -> bytes: ...


class Record(Protocol):
    """What the last build recorded of an output file (``pagekeys.PageRecord``)."""

    key: str  # for a search bundle file, its bundle (see ShardedIndex)
    digest: str  # for a check page, its page_digest
    stat: tuple[int, int, int] | None  # the file's identity after that build


def find_binary() -> Path:
    """The Pagefind executable the ``pagefind`` package would use."""
    try:
        from pagefind.service import get_executable
    except ImportError as exc:
        raise SearchFailed(f"the pagefind package is not installed ({exc})") from None
    try:
        found = get_executable()
    except OSError as exc:  # pagefind_bin_extended installed without its binary
        raise SearchFailed(f"the pagefind binary is missing ({exc})") from None
    if found is None:
        raise SearchFailed("the pagefind binary is missing") from None
    return found


class SearchIndex:
    """A running Pagefind and its in-memory index, fed page by page; close it when done.

    :meth:`reset` drops the index and starts an empty one in the same process, so one
    Pagefind serves every shard of a build.
    """

    def __init__(self, binary: Path | None = None) -> None:
        self.binary = binary or find_binary()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the binary)
        try:
            self._process = subprocess.Popen(
                [str(self.binary), "--service"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
            )
        except OSError as exc:
            self._stderr.close()
            raise SearchFailed(
                f"cannot run the pagefind binary {self.binary}: {exc.strerror or exc}"
            ) from None
        self._lock = threading.Condition()
        self._next_id = 0
        self._pending: dict[int, str] = {}  # message id → what it asked, for error messages
        self._replies: dict[int, dict[str, Any]] = {}  # answers that a caller waits for
        self._errors: list[str] = []
        self._closed = False  # set by the reader when the binary's output ends
        self._heard = 0  # answers read so far: waits time out only if none come
        self._reader = threading.Thread(target=self._read, name="pagefind", daemon=True)
        self._reader.start()
        try:
            reply = self._call({"type": "NewIndex", "config": None})
        except BaseException:
            self.close()
            raise
        self._index_id: int = reply["index_id"]

    def reset(self) -> None:
        """Drop the current index (Pagefind frees it) and start an empty one."""
        self.flush()
        self._call({"type": "DeleteIndex", "index_id": self._index_id})
        self._index_id = self._call({"type": "NewIndex", "config": None})["index_id"]

    # -- requests ------------------------------------------------------------------------

    def add(self, url: str, html: str) -> None:
        """Index one page; ``url`` is the link results point to. Replies are read later."""
        self._send(
            {
                "type": "AddFile",
                "index_id": self._index_id,
                "url": url,
                "file_contents": html,
                "file_path": None,
            },
            f"indexing {url}",
        )

    def flush(self) -> None:
        """Hand the pages added so far to the binary now, not when the pipe fills."""
        try:
            self._process.stdin.flush()  # type: ignore[union-attr]
        except OSError:
            raise self._failure() from None

    def files(self) -> list[tuple[str, bytes]]:
        """The finished bundle as (path below /pagefind/, bytes), sorted by path."""
        self.flush()
        # every page is in before the files are asked for
        self._wait(lambda: not self._pending, "the pages to be indexed")
        self._raise_errors()
        reply = self._call({"type": "GetFiles", "index_id": self._index_id})
        files = [
            (item["path"], base64.b64decode(item["content"]))
            for item in reply["files"]
            if not item["path"].startswith(UNUSED_BUNDLE_FILES)
        ]
        return sorted(stable_bundle(dict(files)).items())

    def close(self) -> None:
        """Stop the binary (idempotent)."""
        process = self._process
        if process.poll() is None:
            try:
                process.stdin.close()  # type: ignore[union-attr]
                process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
        if self._reader.is_alive():
            self._reader.join(timeout=5)
        self._stderr.close()

    def disown(self) -> None:
        """In a forked copy of this process: let go of the pipes to the binary, so that
        only the process that started it holds them.

        A fork (``parallel.ForkedMap``) gets a copy of every open file, the write end of
        the binary's input too. While a child held it, the binary did not see its input
        end when :meth:`close` closed it here, and was killed after 5 s: 10 s of every
        stylesheet edit, with two services. The pipes are pointed at the null device,
        not closed: their file objects in the child still hold the numbers.
        """
        null = os.open(os.devnull, os.O_RDWR)
        try:
            for stream in (self._process.stdin, self._process.stdout):
                if stream is not None and not stream.closed:
                    os.dup2(null, stream.fileno())
        finally:
            os.close(null)

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the protocol ----------------------------------------------------------------------

    def _send(self, payload: dict[str, Any], purpose: str) -> int:
        with self._lock:
            if self._closed:
                raise self._failure()
            self._next_id += 1
            message_id = self._next_id
            self._pending[message_id] = purpose
        message = json.dumps({"message_id": message_id, "payload": payload})
        try:
            self._process.stdin.write(base64.b64encode(message.encode()) + b",")  # type: ignore[union-attr]
        except OSError:  # the binary died: a broken pipe
            raise self._failure() from None
        return message_id

    def _call(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Send one request and wait for its answer."""
        message_id = self._send(payload, payload["type"])
        try:
            self._process.stdin.flush()  # type: ignore[union-attr]
        except OSError:
            raise self._failure() from None
        self._wait(lambda: message_id in self._replies, f"its answer to {payload['type']}")
        with self._lock:
            reply = self._replies.pop(message_id, None)
        self._raise_errors()
        if reply is None:
            raise self._failure()
        return reply

    def _wait(self, done: Callable[[], bool], awaited: str) -> None:
        """Wait until ``done()`` or the binary's output ends; a binary that is alive but
        has said nothing for ``REPLY_TIMEOUT`` seconds is stopped, and the build fails
        rather than waiting for ever."""
        with self._lock:
            while not (done() or self._closed):
                heard = self._heard
                self._lock.wait(REPLY_TIMEOUT)
                if heard == self._heard and not (done() or self._closed):
                    break
            else:
                return
        self._process.kill()
        raise SearchFailed(f"the pagefind binary {self.binary} said nothing for "
                           f"{REPLY_TIMEOUT:.0f} s (waiting for {awaited})")

    def _read(self) -> None:
        """The reader thread: split stdout at commas and file each answer by its id."""
        stream = self._process.stdout
        assert stream is not None
        buffer = bytearray()
        start = 0
        try:
            while chunk := stream.read1(1 << 16):
                buffer += chunk
                while (end := buffer.find(b",", start)) >= 0:
                    self._receive(bytes(buffer[:end]))
                    del buffer[: end + 1]
                    start = 0
                start = len(buffer)  # base64 has no commas: look only at new bytes
        finally:
            with self._lock:
                self._closed = True
                self._lock.notify_all()

    def _receive(self, raw: bytes) -> None:
        try:
            message = json.loads(base64.b64decode(raw))
        except ValueError:
            message = None
        if not isinstance(message, dict) or not isinstance(message.get("payload", {}), dict):
            shown = raw[:200].decode("ascii", "replace")
            message = {"payload": {"type": "Error", "message": f"unreadable answer {shown!r}"}}
        payload = message.get("payload") or {}
        message_id = message.get("message_id")
        with self._lock:
            self._heard += 1
            unknown = "reading a request"
            purpose = self._pending.pop(message_id, unknown) if message_id else unknown
            if payload.get("type") == "Error":
                self._errors.append(f"{purpose}: {payload.get('message')}")
            elif payload.get("type") in ("NewIndex", "GetFiles", "WriteFiles", "DeleteIndex"):
                self._replies[message_id] = payload
            if message_id is None:  # the service could not even read the request
                self._pending.clear()
            self._lock.notify_all()

    def _raise_errors(self) -> None:
        with self._lock:
            errors = list(self._errors)
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise SearchFailed(f"pagefind failed while {errors[0]}{more}")

    def _failure(self) -> SearchFailed:
        """Why the binary stopped, with the end of what it printed."""
        try:  # once its output has ended, the binary is exiting: wait for its status
            code = self._process.wait(timeout=5) if self._closed else self._process.poll()
        except subprocess.TimeoutExpired:
            code = None
        self._stderr.seek(0)
        said = self._stderr.read()[-500:].decode("utf-8", "replace").strip()
        status = f"exit status {code}" if code is not None else "no answer"
        return SearchFailed(
            f"the pagefind binary {self.binary} stopped ({status})" + (f": {said}" if said else "")
        )


# -- a deterministic bundle --------------------------------------------------------------------

_SIGNATURE = b"pagefind_dcd"  # starts every decompressed .pf_* file


def stable_bundle(files: dict[str, bytes]) -> dict[str, bytes]:
    """The bundle with its filter chunks and metadata in sorted order (see the top).

    The files are changed only when they have the layout this was written for (Pagefind
    1.3 to 1.5); a bundle from another version is returned as it is, still working.
    """
    try:
        entry = json.loads(files["pagefind-entry.json"])
        stable = dict(files)
        for lang, info in entry["languages"].items():
            info["hash"] = _stable_language(stable, lang, info["hash"])
    except (KeyError, TypeError, ValueError, IndexError, OSError):  # another layout
        return files
    stable["pagefind-entry.json"] = json.dumps(
        entry, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode()
    return stable


def _stable_language(files: dict[str, bytes], lang: str, meta_hash: str) -> str:
    """Rewrite one language's filter chunks and metadata; returns the new metadata hash."""
    meta_path = f"pagefind.{meta_hash}.pf_meta"
    meta = _read_pf(files[meta_path])
    version, fragments, chunks, filters, sorts, *rest = meta
    renamed: dict[str, str] = {}
    for position, (name, chunk_hash) in enumerate(filters):
        old_path = f"filter/{chunk_hash}.pf_filter"
        filter_name, values = _read_pf(files.pop(old_path))
        if filter_name != name:
            raise ValueError(f"filter chunk {old_path} is not for {name}")
        data = _write_pf([filter_name, sorted(values, key=lambda item: item[0])])
        new_hash = f"{lang}_{hashlib.sha256(data).hexdigest()[:7]}"
        files[f"filter/{new_hash}.pf_filter"] = data
        renamed[chunk_hash] = new_hash
        filters[position] = [name, new_hash]
    meta = [version, fragments, chunks, sorted(filters), sorted(sorts, key=lambda s: s[0]), *rest]
    del files[meta_path]
    data = _write_pf(meta)
    new_meta_hash = f"{lang}_{hashlib.sha256(data).hexdigest()[:10]}"
    files[f"pagefind.{new_meta_hash}.pf_meta"] = data
    return new_meta_hash


def _read_pf(data: bytes) -> Any:
    raw = data if data.startswith(_SIGNATURE) else gzip.decompress(data)
    if not raw.startswith(_SIGNATURE):
        raise ValueError("not a Pagefind file")
    value, end = _cbor_item(raw, len(_SIGNATURE))
    if end != len(raw) or _cbor(value) != raw[len(_SIGNATURE) :]:
        raise ValueError("Pagefind file in an unexpected encoding")
    return value


def _write_pf(value: Any) -> bytes:
    return gzip.compress(_SIGNATURE + _cbor(value), compresslevel=9, mtime=0)


def _cbor_item(data: bytes, pos: int) -> tuple[Any, int]:
    """Decode the CBOR item at ``pos``: the subset Pagefind writes (ints, text, arrays)."""
    major, info = data[pos] >> 5, data[pos] & 31
    pos += 1
    if info < 24:
        arg = info
    elif info <= 27:
        size = 1 << (info - 24)
        arg = int.from_bytes(data[pos : pos + size], "big")
        pos += size
    else:
        raise ValueError(f"unsupported CBOR item 0x{data[pos - 1]:02x}")
    if major == 0:
        return arg, pos
    if major == 3:
        return data[pos : pos + arg].decode("utf-8"), pos + arg
    if major == 4:
        items = []
        for _ in range(arg):
            item, pos = _cbor_item(data, pos)
            items.append(item)
        return items, pos
    raise ValueError(f"unsupported CBOR major type {major}")


def _cbor(value: Any) -> bytes:
    """Encode as Pagefind does: the shortest head for every length and number."""
    if isinstance(value, bool) or not isinstance(value, int | str | list):
        raise ValueError(f"cannot encode {type(value).__name__}")
    if isinstance(value, int):
        return _cbor_head(0, value)
    if isinstance(value, str):
        encoded = value.encode("utf-8")
        return _cbor_head(3, len(encoded)) + encoded
    return _cbor_head(4, len(value)) + b"".join(_cbor(item) for item in value)


def _cbor_head(major: int, arg: int) -> bytes:
    if arg < 24:
        return bytes([major << 5 | arg])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if arg < 1 << (8 * size):
            return bytes([major << 5 | info]) + arg.to_bytes(size, "big")
    raise ValueError(f"number too large for CBOR: {arg}")


_BUNDLE = "pagefind-bundle:"  # starts the key of a shard's published files


_IGNORED_ALL = re.compile(rb"<([a-zA-Z][a-zA-Z0-9]*)\b[^>]*\sdata-pagefind-ignore=\"all\"[^>]*>")
_IGNORE_ALL_ATTRIBUTE = b'data-pagefind-ignore="all"'
_TAG_START = re.compile(rb"<[a-zA-Z]")
# Scripts and links in the page's <head>, which Pagefind never indexes (checked: a
# bundle is byte-identical with their text and URLs changed): a renamed stylesheet or
# script changes every page but no shard. Only the head, where no text is indexed, and
# whole tags (quoted values may hold ">"); a script whose text holds another "<script",
# "<!--" or "<title" stays in, and so does anything carrying a data-pagefind- attribute.
_HEAD_END = re.compile(rb"</head\s*>|<body\b", re.IGNORECASE)
_ATTRIBUTES = rb"""(?:"[^"]*"|'[^']*'|[^'">])*>"""
_UNREAD = re.compile(
    rb"<script\b" + _ATTRIBUTES + rb"[^<]*(?:<(?!/script|script|!--|title)[^<]*)*</script\s*>"
    rb"|<link\b" + _ATTRIBUTES, re.IGNORECASE)


def _unread(match: re.Match[bytes]) -> bytes:
    element = match.group(0)
    return element if b"data-pagefind" in element else b""


def page_digest(data: bytes) -> str:
    """A short hash of what Pagefind indexes of a page: an index shard's cache key.

    Elements marked ``data-pagefind-ignore="all"`` are left out: Pagefind skips them
    whole (text, filters, metadata), so a page that changed only there (the related
    checks of a check page) does not make its shard be indexed again. An element whose
    end cannot be found, or that holds a heading or an image Pagefind might take as a
    default title or image, stays in. So are the ``<script>`` elements and ``<link>``
    tags of the ``<head>`` (a stylesheet's new name after an edit, the ClaimReview
    data), unless they carry a ``data-pagefind-`` attribute.
    """
    kept = []
    pos = 0
    for start in _ignored_all(data):
        if start.start() < pos:
            continue  # inside one already left out
        end = _element_end(data, start.group(1), start.end())
        if end is None:
            continue
        inner = data[start.end():end].lower()
        if b"<h1" in inner or b"<img" in inner:
            continue
        kept.append(data[pos:start.start()])
        pos = end
    kept.append(data[pos:])
    page = b"".join(kept)
    head = _HEAD_END.search(page)
    if head is not None:
        page = _UNREAD.sub(_unread, page[:head.start()]) + page[head.start():]
    return file_digest(page)


def _ignored_all(data: bytes) -> Iterator[re.Match[bytes]]:
    """The start tags carrying ``data-pagefind-ignore="all"``, as
    ``_IGNORED_ALL.finditer(data)`` finds them (see :func:`_start_tags`)."""
    return _start_tags(data, _IGNORE_ALL_ATTRIBUTE, _IGNORED_ALL)


def _start_tags(data: bytes, attribute: bytes, pattern: re.Pattern[bytes],
                pos: int = 0) -> Iterator[re.Match[bytes]]:
    """The matches of ``pattern`` (a start tag carrying ``attribute``) from ``pos``, as
    ``pattern.finditer`` finds them, but looked for from the attribute back to its tag:
    the regular expression alone tries every tag of the page (70 µs of the 100 a check
    page took, a second of a first build at 10,000 checks). A match starts at a tag with
    no ">" before the attribute, so after the last ">" before it."""
    while (found := data.find(attribute, pos)) != -1:
        begin = max(pos, data.rfind(b">", 0, found) + 1)
        for tag in _TAG_START.finditer(data, begin, found + 1):  # "<data-pagefind-…" too
            match = pattern.match(data, tag.start())
            if match is not None:
                yield match
                pos = match.end()
                break
        else:
            pos = found + 1


_BODY_ATTRIBUTE = b"data-pagefind-body"
_MARKED_BODY = re.compile(rb"<([a-z][a-z0-9]*)\b[^>]*\sdata-pagefind-body(?![\w-])[^>]*>")
# Markup that could make counting start and end tags go wrong (in a lowercased page):
# comments, raw text elements, "<" inside a tag or a quoted value.
_RAW_TEXT = (rb"script|style|textarea|title|xmp|iframe|noembed|noframes|noscript|plaintext"
             rb"|template")
_UNSURE = re.compile(rb"<(?:[!?]|/?(?:" + _RAW_TEXT + rb")\b|[a-z][^>]*<)")
_QUOTED_ANGLE = re.compile(rb"""=\s*"[^"]*<|=\s*'[^']*<""")
_RAW_TEXT_START = re.compile(rb"<(" + _RAW_TEXT + rb")\b|<!--")
# What Pagefind takes from outside the data-pagefind-body elements (its parser,
# fossick/parser.rs in Pagefind 1.x, each case tried): metadata, filters and sort keys
# anywhere, the first <h1> as the default title; and after a marked element, the first
# <img> (the default image, once there is a title), text standing directly in one of its
# ancestors, and all of it dropped by an <svg/> there. Nothing after "</body>" or
# "</html>". An element it is told to ignore is ignored outside as well.
# (Expressions that start with a fixed text are found four times faster than one
# alternation.)
_READ_ANYWHERE = (re.compile(rb"data-pagefind-(?!ignore)"), re.compile(rb"<h1\b"))
_READ_AFTER = re.compile(rb"<img\b")
_DOCUMENT_END = re.compile(rb"</(?:body|html)\b")
_TAG = re.compile(rb"<(/?)([a-z][a-z0-9]*)[^>]*>")
_VOID = frozenset(b"area base br col embed hr img input keygen link meta param source track "
                  b"wbr".split())


def searchable(data: bytes) -> bytes:
    """What Pagefind reads of a page, to hand it that and not the whole page.

    A page that marks its content with ``data-pagefind-body`` is indexed from those
    elements alone (and its head, kept as it is); the header, the related checks and
    the footer around them are left out. The index is byte-identical either way (the
    tests build both with Pagefind, on the default theme and on random markup), and
    Pagefind needs about 6% less CPU for it (1,000 check pages: 2.85 s → 2.68 s); this
    costs about 0.15 ms a page here. The page is given whole if it marks
    nothing, if what would be left out holds something Pagefind reads there (see
    ``_READ_ANYWHERE``), if its body holds markup that could mislead the search for the
    elements' ends (see ``_UNSURE``), or if its head might not end where it seems to.
    """
    if _BODY_ATTRIBUTE not in data:
        return data
    low = data.lower()  # ASCII only: every position stays where it was
    head = _HEAD_END.search(low)
    if head is None:
        return data
    start = head.start()
    if _UNSURE.search(low, start) or _QUOTED_ANGLE.search(low) or not _head_closed(low, start):
        return data
    parts: list[bytes] = []  # the marked elements, in order
    pos = start
    for tag in _start_tags(low, _BODY_ATTRIBUTE, _MARKED_BODY, start):
        if tag.start() < pos:
            continue  # inside one already kept
        if tag.group(1) in (b"body", b"html"):
            return data  # the whole page is the content: nothing to cut
        end = _element_end(low, tag.group(1), tag.end())
        if (end is None or _DOCUMENT_END.search(low, pos, tag.start())
                or _read_outside(low, pos, tag.start(), after=bool(parts))
                or _closes_outside(low, start, tag.end(), low.rfind(b"<", 0, end))):
            return data
        parts.append(data[tag.start():end])
        pos = end
    if not parts or _read_outside(low, pos, len(low), after=True):
        return data
    return b"".join([data[:start], b"</head><body>", *parts, b"</body></html>"])


def _closes_outside(low: bytes, body: int, start: int, end: int) -> bool:
    """Whether an end tag in ``low[start:end]`` (a marked element's content) might close
    an element still open before it (from ``body``, where the head ends, on). Pagefind's
    HTML parser closes the nearest open element of that name and every element inside
    it: the marked one too, whose text is then lost, which leaving out what came before
    would change. Such an end tag ends, in the content, an element open at its start."""
    names = sorted(_open_before(low, body, start))  # the same few on every page of a theme
    closing = re.compile(rb"</(" + b"|".join(names) + rb")[\s>/]")  # compiled once, cached
    content = low[start:end]
    return any(_element_end(content, name, 0) is not None
               for name in {match.group(1) for match in closing.finditer(content)})


def _open_before(low: bytes, body: int, end: int) -> set[bytes]:
    """The names of the elements that may be open at ``end``: those opened since ``body``
    and not closed (an end tag closes the nearest open element of its name and, perhaps,
    those inside it, which are counted as open too), and the page's own."""
    stack: list[bytes] = []
    maybe = {b"html", b"head", b"body"}
    for tag in _TAG.finditer(low, body, end):
        name = tag.group(2)
        if not tag.group(1):
            if name not in _VOID:
                stack.append(name)
        elif name in stack:
            while (popped := stack.pop()) != name:
                maybe.add(popped)
    maybe.update(stack)
    return maybe


def _read_outside(low: bytes, pos: int, end: int, after: bool) -> bool:
    """Whether Pagefind reads anything of ``low[pos:end]``, which is outside the marked
    elements (``after``: it follows one)."""
    if any(pattern.search(low, pos, end) for pattern in _READ_ANYWHERE):
        return True
    return after and (_READ_AFTER.search(low, pos, end) is not None
                      or _in_parent(low, pos, end))


def _in_parent(low: bytes, pos: int, end: int) -> bool:
    """Whether text or a self-closed ``<svg/>`` (any non-void tag closed by "/>") stands
    in ``low[pos:end]`` outside every element that starts there: in the parent of the
    marked element before it, or above. The elements are skipped whole, each to its own
    end tag, as Pagefind's parser does (it counts only the end tags that are written)."""
    while True:
        tag = _TAG.search(low, pos, end)
        if low[pos:end if tag is None else tag.start()].strip():
            return True
        if tag is None:
            return False
        pos = tag.end()
        if not tag.group(1) and tag.group(2) not in _VOID:
            if tag.group(0).endswith(b"/>"):
                return True
            close = _element_end(low, tag.group(2), pos)
            if close is None or close > end:
                return True  # not sure where it ends
            pos = close


def _head_closed(low: bytes, end: int) -> bool:
    """Whether the (lowercased) page up to ``end``, where its head seems to end, is
    whole: not inside a tag, a comment or a raw text element such as a script."""
    if not low[:end].rstrip().endswith(b">"):
        return False
    for opened in _RAW_TEXT_START.finditer(low, 0, end):
        closing = b"-->" if opened.group(1) is None else b"</" + opened.group(1)
        if low.find(closing, opened.end(), end) == -1:
            return False
    return True


def _element_end(data: bytes, name: bytes, pos: int) -> int | None:
    """Where the element named ``name`` whose start tag ends at ``pos`` ends (after its
    end tag), counting nested elements of the same name; ``None`` if it does not."""
    tags = re.compile(rb"<(/?)" + re.escape(name) + rb"[\s>/]", re.IGNORECASE)
    depth = 1
    for tag in tags.finditer(data, pos):
        depth += -1 if tag.group(1) else 1
        if depth == 0:
            close = data.find(b">", tag.end() - 1)
            return None if close == -1 else close + 1
    return None


# The automatic shard size (``search_shard_size`` not set): 500 checks, growing past
# 50,000 checks so there are at most 100 shards, up to 1,000 checks (past 100,000 checks
# there are more shards of 1,000). Smaller shards cost a build less memory and an edit
# less re-indexing (Pagefind takes about 1 s and 125 MB for 500 pages, 2 s and 230 MB
# for 1,000); each shard costs the reader two small fetches per visit and one per query
# word, so their number is held down while the memory stays bounded.
AUTO_SHARD_SIZE = 500
# Shards of at most this many pages may be indexed two at a time, by two Pagefinds
# (when the build has two jobs): together they hold about as much as one shard of
# 1,000 (250 MB at most). Pagefind needs about 1 ms of CPU a page to read it and as much
# to make the bundle, more than rendering the page takes, so a first build waits for it.
# Shards of the automatic size hold 500 pages on average but not exactly (a hash of the
# link decides): at 10,000 checks the largest held 541, and with a limit of 500 one
# Pagefind did all the indexing (a first build took 35 s instead of 27 s).
PARALLEL_SHARD_PAGES = 750
AUTO_MAX_SHARD_SIZE = 1000
AUTO_SHARDS = 100


def shard_count(pages: int, shard_size: int | None) -> int:
    """How many index shards hold ``pages`` check pages, at most ``shard_size`` each
    (``None``: the automatic size, see ``AUTO_SHARD_SIZE``)."""
    if shard_size is None:
        wanted = -(-pages // AUTO_SHARDS)
        shard_size = min(AUTO_MAX_SHARD_SIZE, max(AUTO_SHARD_SIZE, wanted))
    return max(1, -(-pages // shard_size))


def shard_of(url: str, count: int) -> int:
    """The shard that indexes the page at ``url``; it moves only when ``count`` changes."""
    return int.from_bytes(hashlib.sha256(url.encode()).digest()[:8], "big") % count


def shards_of(pages: dict[str, str], shard_size: int | None) -> dict[str, int]:
    """Output file → its shard, for the check ``pages`` (output file → link)."""
    count = shard_count(len(pages), shard_size)
    return {relpath: shard_of(url, count) for relpath, url in pages.items()}


def shard_folders(links: Iterable[str], shard_size: int | None) -> dict[int, str]:
    """The shards the check pages at ``links`` fall into, each with its folder below
    ``/pagefind/``, in order. A shard no page falls into does not exist (an empty index
    cannot be merged). The first is the bundle's root, next to ``pagefind.js`` and the
    WebAssembly module that every shard shares; the search page loads them in this order.
    """
    links = list(links)
    count = shard_count(len(links), shard_size)
    return _folders(shard_of(link, count) for link in links)


def _folders(shards: Iterable[int]) -> dict[int, str]:
    used = sorted(set(shards)) or [0]
    return {shard: f"shard-{shard}/" if position else "" for position, shard in enumerate(used)}


class ShardedIndex:
    """Passes every file on to ``sink`` and indexes the check pages, one shard at a time.

    ``pages`` maps the output file of each check page to the link its results point to,
    so the index gets the exact HTML that is published. Each page belongs to one shard
    of about ``shard_size`` pages at most (by a hash of its link); when the last page of
    a shard has been written, that shard's Pagefind index is built in the background
    while the next pages render. Each Pagefind process holds one shard at a time, so the
    memory a build needs for search is bounded by the shard size, not by the size of the
    site (Pagefind holds a whole index in memory while it builds it). The build renders
    check pages grouped by shard (``shard_by_file``).

    A shard whose pages are, in what Pagefind is given of them (:func:`page_digest` of
    :func:`searchable`), those of the last build is not re-indexed: its files come from
    ``cache``, which keeps only the latest bundle of each shard. And if the output folder
    still holds them as the last build left them (``recorded``: its record of each output
    file), they are kept as they are, neither read nor written. ``bundle_files`` says
    which bundle each file published now belongs to, for the next build's records.

    ``services`` are the Pagefinds to use, each for one index after another; the caller
    starts them (early, while the build's process is small). With two, two shards are
    indexed at once where shards are small enough (see :data:`PARALLEL_SHARD_PAGES`).
    Each stops as soon as no shard is left for it: one not needed at once, the others
    once their last bundle is out (see :meth:`_retire`). The caller closes them all in
    the end too (closing is idempotent), for a build that stops before its last shard.

    Once ``defer`` is set (by a preview rendering on every core, which publishes the
    pages before the index is done), a shard Pagefind must index waits for
    :meth:`finish`, its pages read again from the sink then: Pagefind would take a core
    from the rendering, and the rendering would wait for Pagefind at every shard.
    """

    def __init__(self, sink: Sink, pages: dict[str, str], shard_size: int | None,
                 place: Callable[[str], str], services: Sequence[SearchIndex],
                 cache: AnyCache | None = None,
                 recorded: Mapping[str, Record] | None = None) -> None:
        self.sink = sink
        self.pages = pages
        self.recorded = recorded or {}  # by the last build, by output file
        self.digests: dict[str, str] = {}  # output file → digest of each page so far
        self.place = place  # a path below /pagefind/ → the output file
        self.cache = cache
        self._version = _pagefind_version().encode()  # in every shard's key; looked up once
        self.count = shard_count(len(pages), shard_size)
        self.shard_by_file = shards_of(pages, shard_size)
        self.folders = _folders(self.shard_by_file.values())  # as shard_folders() says
        self._expected = Counter(self.shard_by_file.values())
        largest = max(self._expected.values(), default=0)
        self.services = list(services)[:1 if largest > PARALLEL_SHARD_PAGES else None]
        for unused in services[len(self.services):]:
            unused.close()  # shards too large to index two at a time
        self._waiting: dict[int, list[tuple[str, str, bytes | None]]] = {}  # relpath, digest, cut
        self._done: set[int] = set()
        self.indexed = 0  # shards Pagefind built in this run (the others were unchanged)
        self._running: list[_Bundling] = []  # the shards Pagefind works on, oldest first
        self._left: dict[str, list[str]] = {}  # bundle → its files the last build left
        for file, record in self.recorded.items():
            if record.key.startswith(_BUNDLE):
                self._left.setdefault(record.key, []).append(file)
        self.bundle_files: dict[str, str] = {}  # output file → its bundle's key
        self.defer = False
        # Shards waiting for finish() (with defer): shard, slot, key and pages (not cut).
        self._deferred: list[tuple[int, str, str, list[tuple[str, str, bytes | None]]]] = []

    def stale(self) -> list[str]:
        """The files the last build recorded that this build has not produced so far,
        but for the files of its search bundles (replaced when a shard is indexed)."""
        return [file for file, record in self.recorded.items()
                if file not in self.sink.produced and not record.key.startswith(_BUNDLE)]

    def bundles_cached(self) -> bool:
        """Whether the cache holds a bundle for every shard (of pages that may since have
        changed): a build started from another build's cache, as serve's first is."""
        return self.cache is not None and all(
            self.cache.has(self._slot(shard)) for shard in self.folders)

    def _slot(self, shard: int) -> str:
        """The cache slot of a shard's latest bundle."""
        return f"pagefind-shard:{self.count}:{shard}"

    def write(self, relpath: str, data: bytes) -> None:
        self.sink.write(relpath, data)
        if relpath in self.pages:
            # The shard's key hashes what Pagefind is given, so a page that changed only
            # in what is cut away (header, footer, related checks) indexes nothing again.
            # The cut is held until its shard is indexed, not read and cut again: about
            # 10 kB a page, 10 MB for a shard of 1,000.
            cut = searchable(data)
            self._arrived(relpath, page_digest(cut), cut)

    def keep(self, relpath: str) -> None:
        """A page the output folder already holds (as the last build recorded it)."""
        self.sink.keep(relpath)
        if relpath in self.pages:
            record = self.recorded.get(relpath)
            digest = record.digest if record is not None else ""
            if not digest:  # not known: read it (once, here)
                digest = page_digest(searchable(self.sink.current(relpath)))
            self._arrived(relpath, digest, None)

    def _arrived(self, relpath: str, digest: str, html: bytes | None) -> None:
        self.digests[relpath] = digest
        shard = self.shard_by_file[relpath]
        waiting = self._waiting.setdefault(shard, [])
        waiting.append((relpath, digest, html))
        if len(waiting) == self._expected[shard]:
            self._index(shard, self._waiting.pop(shard))

    def finish(self) -> None:
        """Index the shards still open (and those deferred) and write every bundle file."""
        for shard in self.folders:
            if shard not in self._done:
                self._index(shard, self._waiting.pop(shard, []))
        deferred, self._deferred, self.defer = self._deferred, [], False
        for shard, slot, key, pages in deferred:
            self._start(shard, slot, key, pages)
        if deferred:
            self._retire()
        while self._running:
            self._collect()

    def __getattr__(self, name: str) -> Any:  # produced, copy …: the real sink's
        return getattr(self.sink, name)

    def _index(self, shard: int, pages: list[tuple[str, str, bytes | None]]) -> None:
        """Index one shard (see :meth:`_index_shard`); after the last, retire the
        Pagefinds."""
        self._index_shard(shard, pages)
        if len(self._done) == len(self.folders) and not self._deferred:
            self._retire()

    def _retire(self) -> None:
        """Every shard has gone to Pagefind: each service stops as soon as its last
        bundle is out, not at the end of the build. A Pagefind keeps the memory of the
        bundles it made until it stops (200 MB for shards of 1,000 pages), and the
        build is at its largest later (the feeds and sitemaps, the commit)."""
        busy = [running.service for running in self._running]
        for running in self._running:
            running.retire()
        for service in self.services:
            if service not in busy:
                service.close()

    def _index_shard(self, shard: int, pages: list[tuple[str, str, bytes | None]]) -> None:
        """Index one shard's pages, or publish its bundle from the cache when they are
        the pages it was made from: the same links to the same bytes given to Pagefind.
        A page kept from the last build arrives without them (``None``); it is read and
        cut then, and only if Pagefind needs it.
        """
        self._done.add(shard)
        pages.sort()
        slot = self._slot(shard)
        key = content_key("pagefind-shard", self._version,
                          *(f"{self.pages[relpath]}\0{digest}".encode()
                            for relpath, digest, _ in pages))
        if self._keep_bundle(shard, key, slot):
            return
        kept = self.cache.get(slot) if self.cache is not None else None
        if kept is not None and kept[0] == key:
            self._publish(shard, key, kept[1])
            return
        if self.defer:  # the cut pages are let go, and read again then
            self._deferred.append((shard, slot, key, [(relpath, digest, None)
                                                      for relpath, digest, _ in pages]))
            return
        self._start(shard, slot, key, pages)

    def _start(self, shard: int, slot: str, key: str,
               pages: list[tuple[str, str, bytes | None]]) -> None:
        """Hand a shard's pages to a free Pagefind (waiting for one if none is)."""
        if len(self._running) == len(self.services):
            self._collect()  # one index per Pagefind: the oldest shard finishes first
        busy = [running.service for running in self._running]
        service = next(service for service in self.services if service not in busy)
        self.indexed += 1
        for relpath, _, cut in pages:
            if cut is None:
                cut = searchable(self.sink.current(relpath))
            service.add(self.pages[relpath], cut.decode("utf-8"))
        # Pagefind works on this shard while the next pages render.
        self._running.append(_Bundling(service, shard, slot, key))

    def _collect(self) -> None:
        """Wait for the oldest shard Pagefind works on, cache its bundle and write it."""
        running = self._running.pop(0)
        shard, slot, key = running.shard, running.slot, running.key
        files = running.files()
        if self.cache is not None:
            self.cache.put(slot, (key, files))
            self.cache.flush()  # a bundle is megabytes: to disk now, not held until the end
        self._publish(shard, key, files)

    def _bundle(self, shard: int, key: str) -> str:
        """The key of a shard's published files: its index's key and its folder."""
        return f"{_BUNDLE}{key}:{self.folders[shard]}"

    def _publish(self, shard: int, key: str, files: list[tuple[str, bytes]]) -> None:
        folder = self.folders[shard]
        bundle = self._bundle(shard, key)
        for name, data in files:
            if folder and name.startswith(SHARED_BUNDLE_FILES):
                continue  # published once, at the root
            file = self.place(folder + name)
            self.sink.write(file, data)
            self.bundle_files[file] = bundle

    def _keep_bundle(self, shard: int, key: str, slot: str) -> bool:
        """Keep the shard's files in the output folder if the last build left exactly
        this bundle there, untouched since (the same size, mtime and inode)."""
        bundle = self._bundle(shard, key)
        left = self._left.get(bundle)
        if not left or not all(self.sink.can_keep(file, self.recorded[file].stat)
                               for file in left):
            return False
        for file in left:
            self.sink.keep(file)
            self.bundle_files[file] = bundle
        if self.cache is not None:
            self.cache.keep(slot)  # still this shard's latest bundle
        return True


class _Bundling:
    """Pagefind building one shard's bundle, in the background.

    The bundle is asked for as soon as the shard's pages are in, and the index dropped
    once it is out: building the bundle is most of Pagefind's work on a shard (1.5 s
    and 150 MB for 1,000 pages), so it runs while this process renders the next pages,
    and its memory is gone before the next shard's pages come. Asked for only when the
    next shard was ready, it kept rendering waiting at every shard.
    """

    def __init__(self, service: SearchIndex, shard: int, slot: str, key: str) -> None:
        self.service, self.shard, self.slot, self.key = service, shard, slot, key
        self._files: list[tuple[str, bytes]] = []
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._retiring = False  # the service is to stop once the bundle is out
        self._out = False  # the bundle is out and the index dropped
        self._thread = threading.Thread(target=self._run, args=(service,),
                                        name="pagefind-bundle", daemon=True)
        self._thread.start()

    def retire(self) -> None:
        """Stop the service once the bundle is out (now, if it is)."""
        with self._lock:
            self._retiring = True
            out = self._out
        if out:
            self.service.close()

    def _run(self, service: SearchIndex) -> None:
        try:
            self._files = service.files()
            service.reset()
        except BaseException as exc:  # raised again by files(), in the build
            self._error = exc
            return
        with self._lock:  # whichever of this and retire() comes second stops it
            self._out = True
            retiring = self._retiring
        if retiring:
            service.close()

    def files(self) -> list[tuple[str, bytes]]:
        """The bundle, once it is built; what stopped Pagefind is raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._files


def _pagefind_version() -> str:
    try:
        return importlib.metadata.version("pagefind")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
