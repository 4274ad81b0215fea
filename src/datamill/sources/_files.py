"""Helpers shared by the file sources: resolving paths and globs, fingerprints.

Internal: may change.
"""

from __future__ import annotations

import difflib
import glob
from pathlib import Path

from datamill.exceptions import SourceError

__all__ = ["resolve_files", "files_fingerprint", "short"]

_GLOB_CHARS = set("*?[")


def _similar(missing: Path, suffixes: tuple[str, ...]) -> str:
    """A hint listing files in ``missing``'s folder whose names look alike."""
    folder = missing.parent
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    try:
        names = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    except OSError:
        return ""
    close = difflib.get_close_matches(missing.name, names, n=5, cutoff=0.5)
    if not close:
        close = [n for n in names if n.lower().endswith(suffixes)][:5]
    if not close:
        return f"; {folder} holds no {'/'.join(suffixes)} files"
    return f"; similar files in {folder}: {', '.join(close)}"


def resolve_files(base: Path, path: str, suffixes: tuple[str, ...], *, folders: bool = False) -> list[Path]:
    """Expand ``path`` (a file, a glob, or with ``folders`` a folder) into sorted files.

    Raises
    ------
    SourceError
        When nothing matches; the message names the resolved path and lists
        similar files in that folder.
    """
    p = Path(path).expanduser()
    full = p if p.is_absolute() else base / p
    if _GLOB_CHARS & set(str(path)):
        found = sorted(Path(f) for f in glob.glob(str(full), recursive=True) if Path(f).is_file())
        if not found:
            raise SourceError(f"no file matches {full}{_similar(full, suffixes)} (check path:)")
        return found
    if full.is_dir():
        if not folders:
            raise SourceError(f"{full} is a folder, not a file (use a glob such as {path.rstrip('/')}/*{suffixes[0]})")
        found = sorted(f for f in full.rglob("*") if f.is_file() and f.name.lower().endswith(suffixes))
        if not found:
            raise SourceError(f"folder {full} holds no {'/'.join(suffixes)} files (check path:)")
        return found
    if not full.exists():
        raise SourceError(f"file not found: {full}{_similar(full, suffixes)} (check path:)")
    return [full]


def files_fingerprint(files: list[Path]) -> list[tuple[str, int, int]]:
    """Each file's path, size and modification time: what changes when the data does."""
    out = []
    for f in files:
        st = f.stat()
        out.append((str(f), st.st_size, st.st_mtime_ns))
    return out


def short(text: str, limit: int = 200) -> str:
    """``text`` cut to ``limit`` characters, saying how long it really was."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text):,} characters)"
