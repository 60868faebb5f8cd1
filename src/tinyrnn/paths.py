"""Output files: one rule for what may be written, and one way of writing it.

``check_output(role, path, inputs, outputs)`` is the rule, applied before any work starts:
the target is a regular file or does not exist (a device, FIFO, socket, directory or a
symlink that cannot be resolved is refused), it is none of the command's inputs and none of
its other outputs (compared by resolved path and by ``os.stat`` identity, so hard links and
symlinks count), its name is valid text of the file-system encoding and not too long, and
the folder is proven writable by creating, filling and removing the very kind of temporary
file the save will use (which catches /proc and /sys, read-only and full file systems).

``atomic_write(path, write)`` is the writer: ``write(fh)`` fills a temporary file in the
target's folder, which is fsynced and renamed over the target with ``os.replace``; the
temporary file is removed on any exception and on SIGTERM/SIGHUP, and the target is either
the old file or the new one, never a mixture.

Temporary files are named ``.tmp-<random>.part`` and their writer holds an advisory lock
(``fcntl.flock``) on them while writing. A temporary file whose lock can be taken has no live
writer (the kernel drops a lock when its holder dies, in any PID namespace), so it is debris
and is removed; one whose lock is held is never touched. Files of older tinyrnn versions
(no lock) are removed only when untouched for ``STALE_SECONDS``.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import signal
import stat
import sys
import threading
import time
from contextlib import contextmanager

from .errors import UsageError

try:
    import fcntl
except ImportError:  # not POSIX: no locks, age alone decides
    fcntl = None  # type: ignore[assignment]

__all__ = ["check_output", "atomic_write", "remove_stale_temporaries", "STALE_SECONDS"]

STALE_SECONDS = 600  # an unlocked file of an older tinyrnn untouched this long is debris
PROBE_BYTES = 4096  # written (and fsynced) by the writability probe: a full disk shows
_TEMP = re.compile(r"^\.tmp-[0-9a-f]{12}\.part$")
_LEGACY = (
    re.compile(r"^\.tmp-\d+\.[A-Za-z0-9-]*\.[0-9a-f]+\.npz$"),  # <pid>.<host>.<random>.npz
    re.compile(r"^\.tmp-[A-Za-z0-9_]{8}\.npz$"),  # tempfile.mkstemp
    re.compile(r"^\.tmp-[0-9a-f]{12}\.html$"),
)  # charlm show pages


# =========================================================================== the rule
def _pairs(role_paths) -> list[tuple[str, str]]:
    """``{role: path or [paths]}`` or ``[paths]`` -> [(role, path)], Nones dropped."""
    if not role_paths:
        return []
    items = role_paths.items() if hasattr(role_paths, "items") else [("input", p) for p in role_paths]
    out = []
    for role, p in items:
        for one in p if isinstance(p, (list, tuple)) else [p]:
            if one is not None and one != "":
                out.append((role, os.fspath(one)))
    return out


def _same_file(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        sa, sb = os.stat(a), os.stat(b)
    except (OSError, ValueError):
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _kind(mode: int) -> str:
    return (
        "a directory"
        if stat.S_ISDIR(mode)
        else "a character device"
        if stat.S_ISCHR(mode)
        else "a block device"
        if stat.S_ISBLK(mode)
        else "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "not a regular file"
    )


def check_output(role: str, path, inputs=(), outputs=()) -> str | None:
    """Refuse, before any work, an output ``path`` that cannot or must not be written; returns
    the path (None stays None). ``role`` names it in messages (a flag such as ``--save``, or a
    parameter name); ``inputs`` and ``outputs`` are the command's other files, as a list of
    paths or a dict ``{role: path or [paths]}``. Raises ``UsageError``."""
    if path is None:
        return None
    path = os.fspath(path)
    shown = ascii(path) if _unencodable(path) else path
    where = f"{role} {shown}"
    if not path or path.endswith(os.sep):
        raise UsageError(f"{role} {path!r} names no file; give a file name such as out/{_example(role)}")
    if _unencodable(path):
        raise UsageError(
            f"{where}: the name is not valid {sys.getfilesystemencoding()} text; "
            "give a name made of ordinary characters"
        )
    lst, real = _check_target(role, where, path)
    for other, p in _pairs(inputs):
        if _same_file(path, p):
            raise UsageError(
                f"{where} is the same file as the input {other} {p}; writing it would destroy "
                "the input: give another name"
            )
    for other, p in _pairs(outputs):
        if other != role and _same_file(path, p):
            raise UsageError(f"{where} is the same file as {other} {p}; give each output its own name")
    folder = os.path.dirname(real)
    if lst is not None and not os.access(path, os.W_OK):
        raise UsageError(f"{where} exists and is not writable")
    try:
        fd, tmp = _open_temp(folder)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
            _unlink_quietly(tmp)
    except OSError as e:
        raise UsageError(
            f"{where}: cannot write in folder {os.path.dirname(path) or '.'} ({e.strerror or e})"
        ) from None
    return path


def _check_target(role: str, where: str, path: str):
    """What the writer itself refuses: a target that is not a regular file (or absent), a link
    through /proc (a process's open file, such as /dev/stdout), a folder that does not exist, a
    name too long. Returns (the target's lstat or None if absent, the path a write replaces:
    symlinks followed, so a link stays a link)."""
    real, via_proc = _follow(path)
    if via_proc:
        raise UsageError(
            f"{where} leads through a link into /proc ({real}): a process's open file or a "
            "kernel file, not a file to replace; give a file name"
        )
    folder = os.path.dirname(real)
    _check_name_length(where, folder, os.path.basename(path))
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        lst = None
    except OSError as e:
        raise UsageError(f"{where}: cannot be used ({e.strerror})") from None
    if lst is not None:
        try:
            st = os.stat(path)
        except OSError as e:
            what = (
                "a symlink loop"
                if e.errno == errno.ELOOP
                else "a dangling symlink"
                if stat.S_ISLNK(lst.st_mode)
                else "unreadable"
            )
            raise UsageError(f"{where} is {what}; give a regular file name") from None
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(
                f"{where} is a directory; give a file name inside it, e.g. {os.path.join(path, _example(role))}"
            )
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(
                f"{where} is {_kind(st.st_mode)}, not a regular file; it would be replaced, "
                "not written to: give a file name"
            )
    if not os.path.isdir(folder):
        raise UsageError(f"{where}: folder {os.path.dirname(path) or '.'} does not exist; create it first")
    if real != os.path.abspath(path):
        _check_name_length(where, folder, os.path.basename(real))
    return lst, real


def _follow(path: str) -> tuple[str, bool]:
    """(the absolute path ``path`` leads to, every symlink followed, component by component;
    whether a link led the way into /proc, as /dev/stdout -> /proc/self/fd/1 does). A loop stops after 40 links (the target's own
    stat then reports it)."""
    proc_dev = _dev("/proc")
    todo = [c for c in os.path.abspath(path).split(os.sep) if c]
    cur, links, via_proc = os.sep, 0, False
    while todo:
        c = todo.pop(0)
        if c in (".", ""):
            continue
        if c == "..":
            cur = os.path.dirname(cur)
            continue
        nxt = os.path.join(cur, c)
        if os.path.islink(nxt) and links < 40:
            links += 1
            target = os.readlink(nxt)
            if os.path.isabs(target):
                cur = os.sep
            todo = [t for t in target.split(os.sep) if t] + todo
            continue
        cur = nxt
        if links and (
            cur == "/proc" or cur.startswith("/proc/") or (proc_dev is not None and todo and _dev(cur) == proc_dev)
        ):
            via_proc = True  # a link led into /proc
    return cur, via_proc


def _dev(path: str):
    try:
        return os.stat(path).st_dev
    except OSError:
        return None


def _example(role: str) -> str:
    return {"--html": "page.html", "--plot": "plot.png", "--results": "results.jsonl"}.get(role, "model.npz")


def _unencodable(path: str) -> bool:
    try:
        path.encode(sys.getfilesystemencoding(), "strict")
    except UnicodeEncodeError:
        return True
    return False


def _check_name_length(where: str, folder: str, name: str) -> None:
    try:
        limit = os.pathconf(folder if os.path.isdir(folder) else "/", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        limit = 255
    n = len(os.fsencode(name))
    if limit and n > limit:
        raise UsageError(
            f"{where}: the file name is {n} bytes long, more than the {limit} this file system "
            "allows; give a shorter name"
        )


# =========================================================================== the writer
def atomic_write(path, write, what: str = "file") -> None:
    """Write ``path`` atomically: ``write(fh)`` fills a temporary binary file in the same folder,
    which is fsynced and ``os.replace``d over ``path``. The temporary file is removed on any
    exception and on SIGTERM/SIGHUP (then the signal ends the process as asked). A target that
    is not a regular file, or whose folder is missing, is refused (``UsageError``), so a device
    node is never replaced; a failed write raises ``OSError`` whose message names ``what`` and
    ``path`` (a full disk included). Temporary files of dead writers in the folder are removed
    first."""
    path = os.fspath(path)
    if _unencodable(path):
        raise UsageError(f"cannot save {what} {ascii(path)}: the name is not valid {sys.getfilesystemencoding()} text")
    _, real = _check_target(what, f"cannot save {what}: {path}", path)
    folder = os.path.dirname(real)
    remove_stale_temporaries(folder)
    done = False
    tmp = None
    with signals_raise():
        try:
            with _signals_held():  # a signal between creating the file and naming it here
                fd, tmp = _open_temp(folder)  # would leave it behind: it arrives just after, in the try
            with os.fdopen(fd, "wb") as fh:  # closing it drops the lock
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
                os.replace(tmp, real)
                done = True
        except OSError as e:
            raise OSError(e.errno, f"cannot save {what} {path}: {e.strerror or e}") from None
        finally:
            if not done and tmp is not None:
                _unlink_quietly(tmp)
    _fsync_folder(folder)


@contextmanager
def _signals_held():
    """Hold SIGINT, SIGTERM and SIGHUP back while the block runs; they are delivered at its end."""
    held = {signal.SIGINT, signal.SIGTERM} | ({signal.SIGHUP} if hasattr(signal, "SIGHUP") else set())
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    except (AttributeError, OSError, ValueError):  # no pthread_sigmask on this platform
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _open_temp(folder: str) -> tuple[int, str]:
    """A new, locked temporary file in ``folder`` -> (fd, path). Permissions 0666 minus the umask.
    After the lock is taken the name is checked to still be this file: a cleaner that saw it
    unlocked in between removed it, and another name is tried."""
    while True:
        tmp = os.path.join(folder, f".tmp-{secrets.token_hex(6)}.part")
        try:
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        try:
            if fcntl is not None:
                _lock(fd, blocking=True)
            mine = os.fstat(fd)
            now = os.stat(tmp)
            if (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino):
                return fd, tmp
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            _unlink_quietly(tmp)
            raise
        os.close(fd)


def _lock(fd: int, blocking: bool) -> bool:
    """Take an exclusive flock; False if another holds it (non-blocking). A file system
    without flock counts as locked by someone (nothing is ever removed on a guess)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        return True
    except BlockingIOError:
        return False
    except OSError as e:
        if blocking and e.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL):
            return True  # no locks here: write anyway, cleaners fall back to age
        return False


def remove_stale_temporaries(folder: str) -> None:
    """Remove the temporary files in ``folder`` that no live writer holds: ours when their lock
    can be taken, those of older tinyrnn versions when untouched for STALE_SECONDS."""
    try:
        entries = [e for e in os.scandir(folder) if e.name.startswith(".tmp-")]
    except OSError:
        return
    now = time.time()
    for e in entries:
        if _TEMP.match(e.name) and fcntl is not None:
            _remove_if_unlocked(e.path)
        elif _TEMP.match(e.name) or any(p.match(e.name) for p in _LEGACY):
            try:
                old = now - e.stat(follow_symlinks=False).st_mtime > STALE_SECONDS
            except OSError:
                continue
            if old and e.is_file(follow_symlinks=False):
                _unlink_quietly(e.path)


def _remove_if_unlocked(path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return
    try:
        if not _lock(fd, blocking=False):
            return
        mine, now = os.fstat(fd), os.stat(path, follow_symlinks=False)
        if stat.S_ISREG(mine.st_mode) and (mine.st_dev, mine.st_ino) == (now.st_dev, now.st_ino):
            os.unlink(path)  # while holding the lock: no writer can have it
    except OSError:
        pass
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_folder(folder: str) -> None:
    """Make the rename durable (POSIX); harmless where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# =========================================================================== signals
class Terminated(BaseException):
    """Raised by the temporary handler of a terminating signal, so cleanup runs."""


@contextmanager
def signals_raise():
    """While a write runs in the main thread, SIGTERM and SIGHUP (when they have their default,
    killing action) raise instead, so the temporary file is removed; then the signal is sent
    again with its default action, and the process ends as it was asked to. Handlers the
    program installed itself are left alone."""
    names = [n for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []

    def handler(signum, frame):
        caught.append(signum)
        raise Terminated(signum)

    previous = {}
    try:
        for n in names:
            s = getattr(signal, n)
            if signal.getsignal(s) == signal.SIG_DFL:
                previous[s] = signal.signal(s, handler)
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
        if caught:
            os.kill(os.getpid(), caught[0])
