"""Run output folders that are never half-written, mixed or shared (issue 17.3), and the one
atomic-write helper every writer uses (issue 16.6).

A run writes into a fresh hidden sibling ``.<name>.tmp-<random>`` of its output folder and renames
it into place only when every file is written; with ``--force`` the previous folder is first
renamed aside to ``.<name>.old-<pid>`` and removed after the swap, so a reader sees either the
old run or the new one, never a mix. An interrupted run (Ctrl-C) is written the same way with a
``PARTIAL`` marker file saying how much was simulated. A lock file ``.<name>.lock`` (holding the
pid) refuses a second run on the same folder while the first is alive; a lock left by a killed
process is taken over. If a process is killed between the two renames, the next run on that
folder puts the previous output back before it starts.

``--force`` replaces only a folder that holds dcsim's own files (report.json, timeseries.*,
report.html, plots/, PARTIAL): a folder with anything else in it is refused, so ``--out .``
can never delete a user's files. Output names derived from a scenario name go through
:func:`safe_name` (no ``..``, no separators).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import tempfile
import threading
from pathlib import Path
from typing import Callable

from dcsim.textio import atomic_write_bytes, out_folder  # noqa: F401  (re-exported: the writer of every file, the --out type)

__all__ = ["OutputError", "RunDir", "atomic_write_bytes", "safe_name", "is_staging", "write_atomically",
           "OWN_ENTRIES", "PARTIAL_MARKER"]

PARTIAL_MARKER = "PARTIAL"
#: Entries a dcsim result folder may hold; ``--force`` replaces only folders made of these.
OWN_ENTRIES = ("report.json", "timeseries.csv", "timeseries.parquet", "report.html", "plots", PARTIAL_MARKER)

_STAGING: set[str] = set()
_HELD: set[str] = set()  # lock files held by this process


class OutputError(OSError):
    """The output folder cannot be used (not a folder, not empty, not writable, locked)."""


def safe_name(name: str) -> str:
    """A folder name from a scenario or sweep name: characters outside ``[A-Za-z0-9_.-]``
    become ``_``, leading dots are dropped (no ``..``, no hidden folder), never empty."""
    s = re.sub(r"[^A-Za-z0-9_.\-]", "_", str(name))[:120].lstrip(".")
    return s or "run"


def is_staging(path: str | os.PathLike) -> bool:
    """True when ``path`` is the staging folder of a :class:`RunDir` of this process."""
    return os.path.abspath(path) in _STAGING


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM for the few microseconds of a swap (main thread only)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    sigs = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunDir:
    """The output folder of one run. Use as a context manager::

        with RunDir(out, force=args.force) as rd:   # checks, lock and staging folder, before any work
            ...                                      # simulate
            write_outputs(result, rd.staging)        # files go to the staging folder
            rd.commit(partial=False)                 # atomic swap into ``out``

    Leaving the block without :meth:`commit` (an error, Ctrl-C) removes the staging folder and
    leaves ``out`` as it was.
    """

    def __init__(self, final: str | os.PathLike, force: bool = False):
        self.final = Path(final)
        self.force = force
        self.staging: Path | None = None
        self._lock: Path | None = None
        self.committed = False

    # ------------------------------------------------------------------ checks and lock
    def _check_target(self) -> None:
        f = self.final
        if f.exists() and not f.is_dir():
            raise OutputError(f"{f}: exists and is not a folder; choose another --out")
        here = Path.cwd().resolve()
        if f.exists() and (f.resolve() == here or f.resolve() in here.parents):
            raise OutputError(f"{f}: is the working folder or one of its parents; choose another --out")
        if f.is_dir():
            entries = sorted(p.name for p in f.iterdir())
            if entries and not self.force:
                raise OutputError(f"{f}: exists and is not empty; pass --force to replace it, or choose --out DIR")
            foreign = [e for e in entries if e not in OWN_ENTRIES]
            if foreign:
                raise OutputError(f"{f}: holds files dcsim did not write ({', '.join(foreign[:3])}"
                                  f"{', ...' if len(foreign) > 3 else ''}); refusing to replace it even with --force")

    def _acquire(self) -> None:
        lock = self.final.parent / f".{self.final.name}.lock"
        for _ in range(2):
            try:
                fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                try:
                    pid = int(lock.read_text().split()[0])
                except (OSError, ValueError, IndexError):
                    pid = -1
                mine = pid == os.getpid() and os.path.abspath(lock) in _HELD
                if mine or (_pid_alive(pid) and pid != os.getpid()):
                    raise OutputError(f"{self.final}: another dcsim run (pid {pid}) is writing this folder; "
                                      f"refused (its lock is {lock})") from None
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{os.getpid()}\n")
            self._lock = lock
            _HELD.add(os.path.abspath(lock))
            return
        raise OutputError(f"{self.final}: cannot take the lock {lock}")

    def _recover(self) -> None:
        """Finish what a killed run left: restore a folder renamed aside, drop stale staging."""
        parent, name = self.final.parent, self.final.name
        olds = sorted(parent.glob(f".{glob_escape(name)}.old-*"), key=lambda p: p.stat().st_mtime)
        if olds and not self.final.exists():
            os.rename(olds.pop(), self.final)
        for p in olds + list(parent.glob(f".{glob_escape(name)}.tmp-*")):
            shutil.rmtree(p, ignore_errors=True)

    def open(self) -> "RunDir":
        """Check the destination, take the lock and make the staging folder — before any work."""
        parent = self.final.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"{parent}: cannot create the output's parent folder ({e.strerror or e})") from None
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"{parent}: not writable; choose another --out")
        self._check_target()
        try:
            self._acquire()
        except OutputError:
            raise
        except OSError as e:  # /proc passes os.access but takes no new file: "/proc/.x.lock: No such file" (until 2026-12-05)
            raise OutputError(f"{self.final}: cannot create the output folder, {parent} takes no new files "
                              f"({e.strerror or e}); choose another --out") from None
        try:
            self._recover()
            self._check_target()  # again, now that we hold the lock
            self.staging = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.tmp-", dir=parent))
            mask = os.umask(0o022)
            os.umask(mask)
            os.chmod(self.staging, 0o777 & ~mask)  # mkdtemp makes 0700; a result folder is an ordinary one
        except OSError as e:
            self.close()
            if isinstance(e, OutputError):
                raise
            raise OutputError(f"{parent}: cannot write there ({e.strerror or e})") from None
        except BaseException:
            self.close()
            raise
        _STAGING.add(os.path.abspath(self.staging))
        return self

    # ------------------------------------------------------------------ commit and cleanup
    def commit(self, partial: bool = False, note: str = "") -> Path:
        """Move the staging folder into place (atomically swapping out an old one). With
        ``partial``, a ``PARTIAL`` marker saying ``note`` is written first."""
        if self.staging is None:
            raise RuntimeError("RunDir.commit() before open()")
        if partial:
            atomic_write_bytes(self.staging / PARTIAL_MARKER,
                               (f"interrupted run: {note or 'only part of the duration was simulated'}\n"
                                "report.json has partial: true and covers only the simulated ticks\n").encode())
        old = None
        with _signals_deferred():
            if self.final.exists():
                old = self.final.parent / f".{self.final.name}.old-{os.getpid()}"
                os.rename(self.final, old)
            os.rename(self.staging, self.final)
            _STAGING.discard(os.path.abspath(self.staging))
            self.staging = None
            self.committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def close(self) -> None:
        """Remove an uncommitted staging folder and release the lock."""
        if self.staging is not None:
            _STAGING.discard(os.path.abspath(self.staging))
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        if self._lock is not None:
            _HELD.discard(os.path.abspath(self._lock))
            with contextlib.suppress(FileNotFoundError):
                self._lock.unlink()
            self._lock = None

    def __enter__(self) -> "RunDir":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def write_atomically(final: str | os.PathLike, force: bool, write: Callable[[Path], dict],
                     partial: bool = False, on_interrupt: Callable[[RunDir], str] | None = None) -> dict:
    """Run ``write(staging_dir)`` inside a :class:`RunDir` for ``final`` and commit; returns
    ``write``'s mapping of relative name → path, re-rooted at ``final``.

    ``on_interrupt(rd)``: called on a Ctrl-C (KeyboardInterrupt) while writing, with the folder still open, to keep
    what can be kept (it may commit ``rd``); the KeyboardInterrupt is raised again with the text it returns (what
    was written and what was lost). Without it a Ctrl-C leaves ``final`` as it was."""
    with RunDir(final, force=force) as rd:
        try:
            files = write(rd.staging)
            rd.commit(partial=partial)
        except KeyboardInterrupt as e:
            if on_interrupt is None:
                raise
            raise KeyboardInterrupt(on_interrupt(rd)) from e
    return {k: Path(final) / k for k in files}
