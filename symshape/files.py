"""Safe file input and output: atomic writes and readable errors for unreadable files."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from .errors import SpecError


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.

    A failed or interrupted write leaves no file (and no partial file) at ``path``. The file gets the
    mode of the file it replaces, or for a new file the mode the user's umask gives (``mkstemp``
    alone would leave it readable by its owner only).
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise SpecError(f"cannot write {target}: the folder {folder} does not exist")
    tmp = temp_beside(target)
    try:
        write(tmp)
        os.chmod(tmp, mode_for(target))
        os.replace(tmp, target)
    except OSError as exc:
        raise SpecError(f"cannot write {target}: {exc.strerror or exc}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def temp_beside(target: Path) -> Path:
    """A new, empty file of an unpredictable name in ``target``'s folder, created exclusively (``mkstemp``:
    a link planted by someone else is never followed), with the mode ``target`` will have."""
    folder = target.parent if str(target.parent) else Path(".")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=folder)
    except OSError as exc:
        raise SpecError(f"cannot write {target}: {exc.strerror or exc}") from None
    os.close(fd)
    return Path(name)


def mode_for(target: Path) -> int:
    """The permission bits ``open(target, "w")`` would give: an existing file's, else 0o666 less the umask."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


@contextlib.contextmanager
def reading(path: str | Path, what: str) -> Iterator[Path]:
    """Turn the OS errors of reading ``path`` into a SpecError naming the file."""
    p = Path(path)
    if not p.exists():
        raise SpecError(f"{what} {p} does not exist")
    if p.is_dir():
        raise SpecError(f"{what} {p} is a folder, not a file")
    try:
        yield p
    except PermissionError:
        raise SpecError(f"{what} {p} cannot be read: permission denied") from None
    except UnicodeDecodeError as exc:
        raise SpecError(f"{what} {p} is not UTF-8 text (byte {exc.start}: {exc.reason})") from None


def read_text(path: str | Path, what: str) -> str:
    with reading(path, what) as p:
        return p.read_text(encoding="utf-8")
