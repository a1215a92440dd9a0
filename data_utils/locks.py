"""One writer per output: a lock beside each output for as long as the run writing it runs.

Two runs never write one output at once (`OutputLock`); a sweep's --status asks who writes an output
(`lock_holder`) without disturbing the writer.
"""
from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from pathlib import Path

from data_utils.errors import FuteError
from data_utils.io import check_writable, ensure_parent_writable

logger = logging.getLogger(__name__)

# How long a writer retries a held lock before it names the holder: a sweep's --status only tests a lock
# (`lock_holder`) and lets it go at once.
LOCK_PATIENCE_SECONDS = 1.0


def lock_path(output: str | os.PathLike) -> Path:
    """The lock file of `output`: `.<name>.lock` beside it."""
    output = Path(output)
    return output.with_name(f".{output.name}.lock")


class OutputLock:
    """Held by the one run that writes `output`, for as long as it runs: an exclusive flock on its lock file,
    which says "pid <pid> on <host>" of the holder. A second writer gets a FuteError naming the holder.

    The operating system lets go of a flock when its holder dies, however it dies (kill -9 included), so no
    kill leaves a lock held. The file is removed on release (a writer that locked a file removed meanwhile
    locks the new one), with the folders the lock made, when nothing else was written in them. On NFS,
    Linux implements flock with the server's byte-range locks (NLM, or NFSv4's own), which hold between
    machines where the server supports locking; a mount with `nolock` or `local_lock=flock` makes them
    local to each machine (Lustre needs `-o flock`). A file system without locks gets a warning, and no lock.
    """

    def __init__(self, output: str | os.PathLike):
        self.output, self.path = Path(output), lock_path(output)
        self._fd: int | None = None
        self._made: list[Path] = []

    def __enter__(self) -> OutputLock:
        check_writable(self.output)
        folder, self._made = self.path.parent, []
        while not folder.exists() and folder != folder.parent:
            self._made.append(folder)
            folder = folder.parent
        ensure_parent_writable(self.path)
        deadline = time.monotonic() + LOCK_PATIENCE_SECONDS
        while self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                if time.monotonic() < deadline:
                    time.sleep(0.05)
                    continue
                self._remove_folders()
                raise FuteError(f"{self.output} is being written by another run ({holder}); wait for it to end, or "
                                f"stop it, and run this again") from None
            except OSError as err:  # ENOLCK, EOPNOTSUPP: no locks on this file system
                os.close(fd)
                logger.warning("cannot lock %s (%s): nothing stops a second run from writing %s at the same time",
                               self.path, err.strerror, self.output.name)
                return self
            if os.path.exists(self.path) and os.path.samestat(os.fstat(fd), os.stat(self.path)):
                self._fd = fd
            else:  # its last holder removed it between our open and our lock: lock the file there now
                os.close(fd)
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode())
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None
        self._remove_folders()

    def _remove_folders(self) -> None:
        """The folders this lock made, deepest first, while they are empty (a run that failed leaves none)."""
        for folder in self._made:
            try:
                folder.rmdir()
            except OSError:
                break
        self._made = []


def lock_holder(output: str | os.PathLike) -> str | None:
    """Who holds the lock of `output` ("pid <pid> on <host>"), or None when no run is writing it. It tests the
    lock with a shared one, let go at once (a writer starting meanwhile waits that long: LOCK_PATIENCE_SECONDS)."""
    try:
        fd = os.open(lock_path(output), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(fd)
    except OSError:  # no locks on this file system: no holder can be told
        return None
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    return os.pread(fd, 256, 0).decode(errors="replace").strip() or "a run that has not yet written its pid"
