"""One way to open an output path: checked before the work starts, written atomically.

Every output option of every verb (``detect -o/--json``, ``export -o``, ``autolabel --output/--report``,
``compare --grid/--markdown/--json``, ``eval --json/--plot``, ``bench --json/--markdown``...) goes
through :func:`check_output_file` or :func:`check_output_dir` *before* any model is built or image
read, so a bad path costs nothing and is one line naming the option and the path:

* an output that is one of the run's **inputs** (same resolved path or same inode, i.e. also through
  a hard or symbolic link) is refused, ``--force`` or not: ``detect x.jpg --json x.jpg`` must never
  replace the photo;
* a **folder** where a file is meant is refused, and a **file** where a folder is meant;
* an existing file of **another kind** than the option writes (``export -o photo.jpg``, ``--json
  labels.txt``) is only replaced with ``--force``; an earlier output of the same kind (same suffix)
  or an empty file is replaced as before;
* the nearest existing folder above the path must be a folder and **writable**;
* a required format (``eval --plot``: ``.png``/``.pdf``/``.svg``...) is checked from the suffix.

Writing then goes through :func:`write_text` / :func:`write_bytes` (temporary file in the same
folder, fsync, rename: :func:`atomic_write_bytes`) or, for tools that write a path themselves
(matplotlib, TorchScript export, OpenCV's video writer), :func:`atomic_output`. A reader, or a
run killed mid-write, never sees a half-written file. Character devices and FIFOs named as an output
(``--json /dev/stdout``) are written directly.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

from featherface.errors import OutputError

__all__ = ["InputSet", "check_output_file", "check_output_dir", "write_text", "write_bytes", "atomic_output",
           "atomic_write_bytes", "file_mode_for", "is_stream", "PLOT_SUFFIXES", "check_plot_output", "write_failed",
           "LineWriter"]

# the formats matplotlib's Agg canvas writes, chosen by suffix
PLOT_SUFFIXES = {".png", ".pdf", ".svg", ".svgz", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".eps", ".ps"}


def _key(p: Path) -> tuple[int, int] | None:
    try:
        st = p.stat()
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


def _resolved(p: Path) -> str:
    try:
        return os.path.normcase(str(p.expanduser().resolve(strict=False)))
    except (OSError, RuntimeError, ValueError):
        return os.path.normcase(os.path.abspath(str(p)))


class InputSet:
    """The files a run reads: membership by resolved path or by (device, inode)."""

    def __init__(self, paths: Iterable[str | os.PathLike] = ()):
        self._paths: set[str] = set()
        self._inodes: set[tuple[int, int]] = set()
        self._roots: list[str] = []
        for p in paths:
            self.add(p)

    def add(self, path: str | os.PathLike | None) -> None:
        if path is None:
            return
        p = Path(path)
        self._paths.add(_resolved(p))
        k = _key(p)
        if k is not None:
            self._inodes.add(k)

    def add_tree(self, folder: str | os.PathLike | None) -> None:
        """Every file below ``folder`` (an input folder: its files must not be overwritten either).
        Kept as the folder itself, not a walk of it: a data root of 100,000 images costs nothing."""
        if folder is None:
            return
        root = Path(folder)
        if root.is_dir():
            self._roots.append(_resolved(root))
        else:
            self.add(root)

    def __contains__(self, path: object) -> bool:
        if not isinstance(path, (str, os.PathLike)):
            return False
        p = Path(path)
        r = _resolved(p)
        if r in self._paths:
            return True
        if self._roots and os.path.isfile(p) and any(r.startswith(root.rstrip(os.sep) + os.sep) for root in self._roots):
            return True
        k = _key(p)
        return k is not None and k in self._inodes

    def __len__(self) -> int:
        return len(self._paths)


def _nearest_existing(p: Path) -> Path:
    cur = p
    while True:
        if os.path.lexists(cur):
            return cur
        parent = cur.parent
        if parent == cur:
            return cur
        cur = parent


def _check_folder_writable(folder: Path, option: str, target: Path) -> None:
    """``folder`` exists or will be created below its nearest existing ancestor, which must be a
    writable folder."""
    anc = _nearest_existing(folder)
    if not anc.is_dir():
        raise OutputError(f"{option} {target}: {anc} is a file, not a folder")
    what = "folder" if anc == folder else "folder above it,"
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputError(f"{option} {target}: {what} {anc} is not writable")
    # os.access says yes to root everywhere but on read-only mounts (and not always there: sysfs,
    # procfs, network file systems): create and remove a probe file to be sure
    try:
        fd, probe = tempfile.mkstemp(prefix=".featherface-probe-", dir=anc)
    except OSError as exc:
        raise OutputError(f"{option} {target}: {what} {anc} is not writable ({exc.strerror or exc})") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def is_stream(path: str | os.PathLike) -> bool:
    """A character device or FIFO (``/dev/null``, ``/dev/stdout``, a named pipe): written in place."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _force_hint(force_flag: str | None) -> str:
    return f"pass {force_flag} to replace it, or choose another name" if force_flag else "choose another name"


def check_output_file(
    path: str | os.PathLike,
    option: str,
    *,
    inputs: InputSet | Iterable[str | os.PathLike] = (),
    suffixes: Iterable[str] | None = None,
    require_suffix: bool = False,
    force: bool = False,
    force_flag: str | None = "--force",
    replace_same_kind: bool = True,
) -> Path:
    """Check that ``path`` may be written as the output file of ``option``; return it as a Path.

    ``suffixes`` are the suffixes this option writes (``{".json"}``): an existing non-empty file
    with another suffix is only replaced when ``force``. With ``replace_same_kind=False`` (picture
    outputs: a ``.jpg`` is as likely a user's photo as an earlier output) no existing non-empty
    file is replaced without ``force``. With ``require_suffix`` the path itself must end in one of
    ``suffixes`` (a format chosen by suffix). Raises :class:`OutputError`.
    """
    raw = os.fspath(path)
    if not str(raw).strip():
        raise OutputError(f"{option}: empty path")
    if "\x00" in str(raw):
        raise OutputError(f"{option} {raw!r}: path contains a NUL byte")
    p = Path(raw).expanduser()
    ins = inputs if isinstance(inputs, InputSet) else InputSet(inputs)
    sfx = {s.lower() for s in suffixes} if suffixes is not None else None
    if require_suffix and sfx is not None and p.suffix.lower() not in sfx:
        if p.is_dir():
            raise OutputError(f"{option} {p}: is a folder; give a file name ending in {', '.join(sorted(sfx))}")
        got = f"'{p.suffix}'" if p.suffix else "no suffix"
        raise OutputError(f"{option} {p}: unsupported format ({got}); use one of {', '.join(sorted(sfx))}")
    if p in ins:
        raise OutputError(f"{option} {p} is also an input of this run; refusing to overwrite it")
    if os.path.lexists(p):
        if p.is_dir():
            raise OutputError(f"{option} {p}: is a folder; give a file name")
        if p.exists():
            mode = p.stat().st_mode
            if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
                return p  # /dev/null, /dev/stdout, a pipe: written in place
            if not stat.S_ISREG(mode):
                raise OutputError(f"{option} {p}: not a regular file")
            if p.stat().st_size > 0 and not force:
                if sfx is not None and p.suffix.lower() not in sfx:
                    raise OutputError(f"{option} {p} already exists and is not a {'/'.join(sorted(sfx))} file; "
                                      f"refusing to replace it: {_force_hint(force_flag)}")
                if not replace_same_kind:
                    raise OutputError(f"{option} {p} already exists (it may be a picture of the user's own); "
                                      f"refusing to replace it: {_force_hint(force_flag)}")
    _check_folder_writable(p.parent, option, p)
    return p


def check_output_dir(
    path: str | os.PathLike,
    option: str,
    *,
    inputs: InputSet | Iterable[str | os.PathLike] = (),
) -> Path:
    """Check that ``path`` is, or can be created as, a writable folder; return it as a Path.

    The folder may be an input folder (``detect DIR -o DIR``): the files written into it must then
    avoid the input files' names (see :func:`featherface.commands.detect`)."""
    raw = os.fspath(path)
    if not str(raw).strip():
        raise OutputError(f"{option}: empty path")
    p = Path(raw).expanduser()
    ins = inputs if isinstance(inputs, InputSet) else InputSet(inputs)
    if os.path.lexists(p) and not p.is_dir():
        if p in ins:
            raise OutputError(f"{option} {p} is an input file of this run; give a folder for the output")
        raise OutputError(f"{option} {p}: is a file; give a folder")
    _check_folder_writable(p, option, p)
    return p


def file_mode_for(path: str | os.PathLike) -> int:
    """The permissions a plain ``open(path, "w")`` would give: the existing file's, else
    0666 & ~umask (``mkstemp`` creates 0600 files, which would make every output private)."""
    try:
        return stat.S_IMODE(Path(path).stat().st_mode)
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def _temp_prefix(path: Path) -> str:
    """Temporary siblings are ``.<name>.<pid>.<random>.tmp[<suffix>]``: the pid tells whose they are."""
    return f".{path.name}.{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temps(path: str | os.PathLike) -> int:
    """Delete the temporary siblings of ``path`` left by writers that no longer run (a SIGKILL
    mid-write leaves one); returns how many. Files of a live writer, and anything not named by
    this module, are never touched."""
    p = Path(path)
    removed = 0
    try:
        candidates = list(p.parent.glob(f".{glob_escape(p.name)}.*.tmp*"))
    except OSError:
        return 0
    for tmp in candidates:
        rest = tmp.name[len(p.name) + 2:]
        pid_text = rest.split(".", 1)[0]
        if not pid_text.isdigit() or ".tmp" not in rest or int(pid_text) == os.getpid() or _pid_alive(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed += 1
    return removed


def glob_escape(name: str) -> str:
    """``name`` with glob metacharacters escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def write_failed(path: str | os.PathLike, exc: OSError) -> OutputError:
    """The one-line error of a write that failed (a full disk, a short write, a lost device),
    naming the file: the system's own message names none ("No space left on device")."""
    return OutputError(f"{path}: cannot write ({exc.strerror or exc})")


def atomic_write_bytes(data: bytes | memoryview, path: str | os.PathLike) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: a reader (or a process
    killed mid-write) never sees a half-written file. The file gets ordinary permissions. A failed
    write (ENOSPC...) is an :class:`OutputError` naming ``path``, and leaves what was there."""
    path = Path(path)
    try:
        _atomic_write_bytes(data, path)
    except OutputError:
        raise
    except OSError as exc:
        raise write_failed(path, exc) from None


def _atomic_write_bytes(data: bytes | memoryview, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = file_mode_for(path)
    remove_stale_temps(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if f.write(data) != len(memoryview(data).cast("B")):  # a short write
                raise OSError(errno.ENOSPC, "short write")
            f.flush()
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_bytes(path: str | os.PathLike, data: bytes | memoryview) -> Path:
    """Write ``data`` atomically (or in place for a character device / FIFO); parents are created."""
    p = Path(path)
    if is_stream(p):
        try:
            with open(p, "wb") as f:
                f.write(data)
        except OSError as exc:  # --json /dev/full
            raise write_failed(p, exc) from None
        return p
    atomic_write_bytes(data, p)  # keeps the file's mode, or gives a new one 0666 & ~umask
    return p


class LineWriter:
    """A text file written line by line as the work goes (``detect --jsonl``: a consumer of an
    endless stream reads each line at once, so it cannot be written atomically); every write and
    flush that fails is an :class:`OutputError` naming the file, never a nameless
    "No space left on device". After one failure :meth:`close` is quiet (the error was raised)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._failed = False
        try:
            self._f = open(self.path, "w", encoding="utf-8")
        except OSError as exc:
            raise write_failed(self.path, exc) from None

    def _do(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except OSError as exc:
            self._failed = True
            raise write_failed(self.path, exc) from None

    def write(self, text: str) -> int:
        return self._do(self._f.write, text)

    def flush(self) -> None:
        self._do(self._f.flush)

    def close(self) -> None:
        if self._failed:
            with contextlib.suppress(OSError):
                self._f.close()
            return
        self._do(self._f.close)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` atomically (see :func:`write_bytes`)."""
    return write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` (same suffix, so tools that pick the format from
    the name still work); on success it replaces ``path``, on any error it is removed."""
    p = Path(path)
    if is_stream(p):
        yield p
        return
    p.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(p)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(p), suffix=f".tmp{p.suffix}", dir=p.parent)
    os.close(fd)
    tmp_p = Path(tmp)
    mode = file_mode_for(p)
    try:
        yield tmp_p
        with contextlib.suppress(OSError):
            os.chmod(tmp_p, mode)
        os.replace(tmp_p, p)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp_p.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, OutputError) and exc.errno in _WRITE_ERRNOS:
            raise write_failed(p, exc) from None  # the tool's own message names the temporary file, or none
        raise


# what a failing write says (full disk, quota, file too big, I/O error, read-only file system)
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


def check_plot_output(path: str | os.PathLike, option: str = "--plot", *,
                      inputs: InputSet | Iterable[str | os.PathLike] = (), force: bool = False) -> Path:
    """A picture output drawn by matplotlib: its suffix must name a format (``pr`` or ``pr.xyz`` is
    refused before the work, instead of matplotlib failing after it or appending ``.png``), and
    matplotlib must be installed (checked now, not after the evaluation)."""
    p = check_output_file(path, option, inputs=inputs, suffixes=PLOT_SUFFIXES, require_suffix=True, force=force,
                          replace_same_kind=False)
    try:  # matplotlib is the optional [plot] extra: checked here, imported by the plot itself
        import matplotlib  # noqa: F401
    except ImportError:
        raise OutputError(f"{option} needs matplotlib, which is not installed: pip install 'featherface[plot]'") from None
    return p
