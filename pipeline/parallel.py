"""Worker processes: read many files on every core, and let a reader crash cost only its file.

Reading (`start_reading`): the inbox's files are handed to worker processes in
chunks; a worker sends back a chunk's FileReads in one message (one pickle, so the item ids and
sheet names the files share arrive as shared strings: a third less memory at 30,000 files than one
message per file). python-calamine can abort the whole process on a hostile workbook (ingest's
pre-checks catch the cases known today); when a worker dies, the files of its chunk are read again
one by one in a fresh worker that reports after each file, so the file it dies on is the culprit:
it gets a `file-crashed-reader` ledger row and the rest of the chunk goes on in another fresh worker.
A worker that makes no progress for FILE_TIMEOUT seconds is treated the same way. Results come back
in file-name order, whatever order the workers finished in.

Other work (`fork_map`, `in_child`): our own code (差戻し workbooks, the consolidated workbook)
run in forked children so that it overlaps; a child that fails is simply redone in-process.

Workers are forked where the platform allows it (Linux): they start in milliseconds and inherit
the loaded definition. Elsewhere (Windows, macOS) they are spawned, which costs a fresh
interpreter each, so there they are used only for larger inboxes; fork_map/in_child then run
in-process. PIPELINE_START_METHOD=spawn (or fork, forkserver) chooses the start method, so that
Linux can run what Windows and macOS run (tests compare the outputs of both). PIPELINE_WORKERS=0
reads in-process, PIPELINE_WORKERS=N caps the number of workers; PIPELINE_DEBUG=1 leaves a crashing
reader's native dump on the terminal.
"""
from __future__ import annotations

import collections
import multiprocessing as mp
import os
import pickle
import signal
import sys
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from pathlib import Path

from .catalogue import text

FILE_TIMEOUT = 120.0  # seconds without progress before a reading worker is taken as hung
CHUNK = 32  # files per task: big enough to keep messages few, small enough to balance the workers
AHEAD = 2  # chunks a reader holds (the one it reads and the next), so it never waits for the parent to hand one
START_AHEAD = 8  # chunks a reader gets at the start, to read on while the parent imports (~0.5 s)
MIN_FILES_FORK = 48  # below this, reading in-process is as fast (fork + result transfer ~ the savings)
MIN_FILES_SPAWN = 256  # a spawned worker costs ~0.3 s of start-up (imports): as much as reading ~250 files
MIN_ITEMS_FORK_MAP = 24  # 差戻し workbooks (~15 ms each) worth a second process

_CAN_FORK = sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods()
START_METHODS = ("fork", "spawn", "forkserver")


def start_method() -> str:
    """How worker processes start: PIPELINE_START_METHOD where this platform has it, else fork where it is
    safe (Linux), else spawn."""
    wanted = os.environ.get("PIPELINE_START_METHOD", "").strip().lower()
    if wanted in START_METHODS and wanted in mp.get_all_start_methods() and (wanted != "fork" or _CAN_FORK):
        return wanted
    return "fork" if _CAN_FORK else "spawn"


def forking() -> bool:
    """Workers are forked: they start at once and share the parent's memory (our own work may go to them)."""
    return start_method() == "fork"


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _limit() -> int | None:
    raw = os.environ.get("PIPELINE_WORKERS", "").strip()
    return int(raw) if raw.isdigit() else None


def reading_workers(n_files: int) -> int:
    """How many reading workers for n files: 0 means read in-process."""
    limit = _limit()
    if limit == 0:
        return 0
    if n_files < (MIN_FILES_FORK if forking() else MIN_FILES_SPAWN):
        return 0
    n = min(cpu_count(), -(-n_files // CHUNK))
    return max(1, min(n, limit) if limit else n)


# ------------------------------------------------------------------ reading


def _start_frozen(proc) -> None:
    """Start a process with the parent's objects outside the collector's reach (gc.freeze): a forked
    child's garbage collections would otherwise touch, and so copy, every shared page."""
    import gc

    gc.freeze()
    try:
        proc.start()
    finally:
        gc.unfreeze()


def _die_with_parent(parent_pid: int) -> None:
    """Linux: the kernel kills this child when its parent dies (even by kill -9). Without it, forked
    siblings hold each other's inherited pipe ends, so none would ever see EOF and all would linger."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


SEND_BUFFER = 8 * 1024 * 1024  # bytes of results a reader may send before the parent takes them (the OS caps it)


def _roomy(conn) -> None:
    """Let a reader send results while the parent is busy (importing pandas, ~0.4 s): a socket's default buffer
    (~200 KB, one or two chunks) would stop it until the parent reads. Unix sockets only; elsewhere as it was."""
    try:
        import socket

        with socket.socket(fileno=os.dup(conn.fileno())) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
    except (OSError, AttributeError, ValueError):
        pass


def _reader_main(conn, inbox: Path, definition, roster, parent_pid: int | None = None, cache=None,
                 prepare: Callable | None = None) -> None:
    """Worker: receive (one_by_one, [(index, path)…]); reply with all results in one message, or with
    one message per file when one_by_one (isolating a crash); ("done", n) ends a task."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle; it ends us
    if parent_pid is not None:
        _die_with_parent(parent_pid)
    _roomy(conn)
    if not os.environ.get("PIPELINE_DEBUG"):
        # A reader that aborts prints a native backtrace; the ledger row already says what happened.
        import faulthandler

        faulthandler.disable()
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    from . import ingest

    def read(path):
        found = ingest.read_file(path, inbox, definition, roster, cache)
        return prepare(found) if prepare is not None else found

    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        one_by_one, files = task
        if one_by_one:
            for i, path in files:
                conn.send([(i, read(path))])
        else:
            conn.send([(i, read(path)) for i, path in files])
        if cache is not None and (cache.pending or cache.new_layouts):
            conn.send(("cache", cache.take()))  # what this chunk found, for the parent to keep for the next run
        conn.send(("done", len(files)))


class _Worker:
    def __init__(self, ctx, inbox, definition, roster, isolating: bool, cache=None, prepare=None):
        parent, child = ctx.Pipe(duplex=True)
        self.proc = ctx.Process(target=_reader_main, daemon=True,
                                args=(child, inbox, definition, roster, os.getpid(), cache, prepare))
        _start_frozen(self.proc)
        child.close()
        self.conn = parent
        self.isolating = isolating  # re-reading a crashed chunk file by file: its crash is the current file's
        self.outstanding: collections.deque = collections.deque()
        self.ahead = 0  # chunks given and not yet done
        self.last_progress = time.monotonic()

    def give(self, chunk: list[tuple[int, Path]]) -> None:
        self.conn.send((self.isolating, chunk))  # OSError if the worker is already gone: the chunk stays unassigned
        self.outstanding.extend(i for i, _ in chunk)
        self.ahead += 1
        self.last_progress = time.monotonic()

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()


def _why_dead(exitcode: int | None, hung: bool) -> str:
    """The detail of a reader's death, for its file's `file-crashed-reader` problem."""
    if hung:
        return text("detail.reader-timeout", seconds=f"{FILE_TIMEOUT:.0f}")
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = text("detail.signal-number", number=-exitcode)
        return text("detail.reader-killed", signal=name)
    return text("detail.reader-exit", code=exitcode)


def crashed_read(path: Path, inbox: Path, why: str):
    """The ledger row of a file whose reader died: rejected, with the file's hash where it can be had."""
    from .digest import sha256_path
    from .ingest import _base, rejected_read, relative_name

    base = _base(relative_name(path, inbox))
    try:
        st = Path(path).stat()
        base.update(size=st.st_size, mtime=st.st_mtime)
        base["sha256"] = sha256_path(path)
    except OSError:
        pass
    return rejected_read(base, "file-crashed-reader", detail=why)


class Reading:
    """Files being read in workers (started by `start_reading`); `result()` waits for all of them."""

    def __init__(self, paths: list[Path], inbox: Path, definition, roster, workers: int, progress: bool, cache=None,
                 prepare=None):
        self.paths, self.inbox, self.definition, self.roster, self.cache = paths, inbox, definition, roster, cache
        self.n_files = len(paths)
        self.prepare = prepare
        self.results: list = [None] * len(paths)
        self.ctx = mp.get_context(start_method())
        indexed = list(enumerate(paths))
        self.pending: collections.deque = collections.deque(
            [indexed[k:k + CHUNK] for k in range(0, len(indexed), CHUNK)])
        self.suspects: collections.deque = collections.deque()  # chunks whose worker died: re-read file by file
        self.n_workers = workers
        self.progress = progress
        self.starts = 0
        self.workers: list[_Worker] = []
        self.bar = None
        try:
            for _ in range(min(workers, len(self.pending))):
                self._start(isolating=False)
        except BaseException:
            self._shutdown()
            raise

    def _start(self, isolating: bool) -> None:
        self.starts += 1
        if self.starts > self.n_workers + 2 * len(self.paths) + 2:  # each crash costs at most two starts
            raise RuntimeError("reading workers keep dying before reading anything")
        w = _Worker(self.ctx, self.inbox, self.definition, self.roster, isolating, self.cache, self.prepare)
        self.workers.append(w)
        # A new reader gets its share of the first chunks at once (up to START_AHEAD): the parent is busy
        # importing for the first half second and could not hand them out one by one meanwhile.
        share = -(-len(self.pending) // max(1, self.n_workers - sum(not x.isolating for x in self.workers) + 1))
        self._feed(w, 1 if isolating else max(AHEAD, min(START_AHEAD, share)))

    def _feed(self, w: _Worker, ahead: int = AHEAD) -> None:
        """Give w chunks until it holds `ahead` of them (one at a time when isolating); stop it when it has none
        and none are left."""
        queue = self.suspects if w.isolating else self.pending
        target = 1 if w.isolating else ahead
        while queue and w.ahead < target:
            chunk = queue.popleft()
            try:
                w.give(chunk)
            except OSError:
                queue.appendleft(chunk)
                return
        if not queue and w.ahead == 0:
            w.stop()

    def _collect(self, w: _Worker) -> bool:
        """Take every message waiting from w; False once its pipe is closed."""
        try:
            while w.conn.poll():
                message = w.conn.recv()
                if message[0] == "done":
                    w.ahead -= 1
                    self._feed(w)
                    continue
                if message[0] == "cache":
                    if self.cache is not None:
                        self.cache.receive(message[1])
                    continue
                for i, read in message:
                    self.results[i] = self.on_read(read)
                    w.outstanding.remove(i)
                w.last_progress = time.monotonic()
                if self.bar is not None:
                    self.bar.update(len(message))
        except (EOFError, OSError, pickle.UnpicklingError):
            return False
        return True

    def _buried(self, w: _Worker, hung: bool) -> None:
        """w is gone: keep what it sent; an ordinary worker's chunk is re-read file by file, while an
        isolating worker's current file is the culprit and the rest of its list goes on."""
        self._collect(w)
        w.kill()
        self.workers.remove(w)
        if not w.outstanding:
            return
        left = [(i, self.paths[i]) for i in w.outstanding]
        if w.isolating:
            (culprit, path), left = left[0], left[1:]
            self.results[culprit] = self.on_read(crashed_read(path, self.inbox, _why_dead(w.proc.exitcode, hung)))
            if self.bar is not None:
                self.bar.update(1)
        if left:
            self.suspects.appendleft(left)

    def result(self, on_read: Callable | None = None) -> list:
        """Every FileRead, in file-name order. `on_read(x)` is called on each as it arrives (the caller's work
        overlaps the reading), x being what start_reading's `prepare` made of it in the reader (else the FileRead
        itself; always the FileRead for a file whose reader crashed); what it returns is kept in its place."""
        from tqdm import tqdm

        self.on_read = on_read or (lambda read: read)
        if self.progress:
            self.bar = tqdm(total=len(self.paths), desc=text("consolidate.progress"), unit=text("unit.file"), file=sys.stderr)
        try:
            while self.workers or self.pending or self.suspects:
                # Crashed chunks one at a time in a fresh worker; ordinary chunks keep the other cores busy.
                if self.suspects and not any(w.isolating for w in self.workers):
                    self._start(isolating=True)
                while self.pending and sum(not w.isolating for w in self.workers) < self.n_workers:
                    self._start(isolating=False)
                if not self.workers:
                    continue
                ready = set(wait([w.conn for w in self.workers] + [w.proc.sentinel for w in self.workers],
                                 timeout=1.0))
                now = time.monotonic()
                for w in list(self.workers):
                    open_ = self._collect(w) if w.conn in ready else True
                    if not open_ or w.proc.sentinel in ready:
                        w.proc.join(1)
                        if w.outstanding or w.proc.exitcode != 0:
                            self._buried(w, False)
                        else:  # stopped after its last task
                            w.kill()
                            self.workers.remove(w)
                    elif w.outstanding and now - w.last_progress > FILE_TIMEOUT:
                        w.proc.kill()
                        self._buried(w, True)
        finally:
            if self.bar is not None:
                self.bar.close()
            self._shutdown()
        missing = [self.paths[i] for i, r in enumerate(self.results) if r is None]
        if missing:  # every path gets exactly one ledger row; losing one silently would be worse than stopping
            raise RuntimeError(f"reading workers lost {len(missing)} files, e.g. {missing[0]}")
        return sorted(self.results, key=lambda r: r.file)

    def _shutdown(self) -> None:
        for w in self.workers:
            w.kill()
        self.workers = []


class _Done:
    """The in-process path of start_reading: already read (and prepared)."""

    def __init__(self, reads: list):
        self.reads = reads
        self.n_files = len(reads)

    def result(self, on_read: Callable | None = None) -> list:
        return [on_read(r) for r in self.reads] if on_read else self.reads


def start_reading(inbox: Path, definition, roster, *, progress: bool = False, workers: int | None = None, cache=None,
                  prepare: Callable | None = None):
    """Begin reading every file under the inbox; returns an object whose result() is the FileReads in
    file-name order. With workers, the caller may do other work (imports) meanwhile. `cache`: a
    readcache.ReadCache (what earlier runs found in the same bytes). `prepare(read)`: work done on each file
    where it is read (in the worker), handed to result()'s on_read (picklable where workers are spawned)."""
    from .ingest import ingest, scan_inbox

    inbox = Path(inbox)
    paths = scan_inbox(inbox)
    n = reading_workers(len(paths)) if workers is None else workers
    if n <= 0:
        reads = sorted(ingest(inbox, definition, roster, progress=progress, cache=cache), key=lambda r: r.file)
        return _Done([prepare(r) for r in reads] if prepare is not None else reads)
    return Reading(paths, inbox, definition, roster, n, progress, cache, prepare)


# ------------------------------------------------------------------ our own work in forked children


def _child_send(conn, fn: Callable, items: Sequence, parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    try:
        conn.send(("ok", [fn(x) for x in items]))
    except BaseException as exc:  # noqa: BLE001 - the parent redoes the work and sees the real error
        try:
            conn.send(("error", repr(exc)))
        except Exception:  # noqa: BLE001
            pass
    finally:
        conn.close()


class _Child:
    """fn over items in a forked child (fork only); result() falls back to in-process on any failure."""

    def __init__(self, fn: Callable, items: Sequence):
        self.fn, self.items = fn, items
        self.proc = self.conn = None
        if forking():
            ctx = mp.get_context("fork")
            self.conn, child = ctx.Pipe(duplex=False)
            self.proc = ctx.Process(target=_child_send, args=(child, fn, items, os.getpid()), daemon=True)
            _start_frozen(self.proc)
            child.close()

    def result(self) -> list:
        if self.proc is None:
            return [self.fn(x) for x in self.items]
        try:
            status, value = self.conn.recv()
        except (EOFError, OSError, pickle.UnpicklingError):
            status, value = "lost", None
        finally:
            self.conn.close()
            self.proc.join(5)
            if self.proc.is_alive():
                self.proc.kill()
                self.proc.join()
        return value if status == "ok" else [self.fn(x) for x in self.items]


def in_child(fn: Callable, *args, enabled: bool = True):
    """Start fn(*args) in a forked child; `.result()` returns its value (computed in-process where fork is
    unavailable, not `enabled`, or the child failed). The value travels back pickled: keep it compact."""
    child = _Child(lambda a: fn(*a), [args]) if enabled else None
    if child is None:
        value = fn(*args)

        class _Here:
            def result(self):
                return value

        return _Here()

    class _One:
        def result(self):
            return child.result()[0]

    return _One()


def fork_map(fn: Callable, items: Sequence, *, workers: int | None = None) -> list:
    """[fn(x) for x in items], split over forked children when there are enough items; order kept."""
    items = list(items)
    n = min(workers or cpu_count(), len(items) // max(1, MIN_ITEMS_FORK_MAP // 2))
    if not forking() or n <= 1 or len(items) < MIN_ITEMS_FORK_MAP or _limit() == 0:
        return [fn(x) for x in items]
    # Children take the later shares; the parent works on the first one meanwhile.
    shares = [items[k::n] for k in range(n)]
    children = [_Child(fn, share) for share in shares[1:]]
    done = [[fn(x) for x in shares[0]]] + [c.result() for c in children]
    out: list = [None] * len(items)
    for k, share in enumerate(done):
        out[k::n] = share
    return out
