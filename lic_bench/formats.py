"""Output formats, in one place: terminal tables, CSV/JSON of rows, and atomic file writes.

Files are written atomically (a private temporary file in the same folder, then renamed over the
target) and only as regular files: a folder, a symbolic link or a device given as an output is
refused in one line, so lic-bench never replaces something that is not its own output.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import stat
import tempfile
from pathlib import Path

from .errors import LicBenchError

LEFT_COLUMNS = ("codec", "image", "status", "name", "what", "metric", "why", "anchor", "curve", "dataset", "method",
                "metrics", "provenance", "licence", "label", "source")
#: names a reader copies into the next command: shown whole, never cut with an ellipsis
NAME_COLUMNS = ("codec", "name", "curve", "anchor", "image", "dataset")


def fmt(x, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if isinstance(x, float):
        return "inf" if math.isinf(x) else f"{x:.{digits}f}"
    return str(x)


def print_table(title: str, columns: list[str], rows: list[list], caption: str | None = None, file=None) -> None:
    from rich.console import Console
    from rich.table import Table

    from rich.markup import escape

    cells = [[escape(fmt(v) if not isinstance(v, str) else v) for v in r] for r in rows]  # "pip install 'x[y]'" is text
    t = Table(title=title, caption=caption, caption_justify="left")
    names_width = 0
    for i, c in enumerate(columns):
        whole = c in NAME_COLUMNS and not any("\n" in r[i] for r in cells if i < len(r))
        longest = max([len(c), *(len(r[i]) for r in cells if i < len(r))]) if whole else None
        names_width += longest or 0
        t.add_column(c, justify="left" if c in LEFT_COLUMNS else "right", no_wrap=whole, min_width=longest)
    for r in cells:
        t.add_row(*r)
    others = len(columns) - sum(1 for c in columns if c in NAME_COLUMNS)
    Console(width=max(100, len(caption or "") // 2, 13 * len(columns), names_width + 14 * others), file=file).print(t)


def table_text(title: str, columns: list[str], rows: list[list], caption: str | None = None) -> str:
    """The same table as text (for -o FILE)."""
    buf = io.StringIO()
    print_table(title, columns, rows, caption, file=buf)
    return buf.getvalue()


def to_csv(rows: list[dict], fields: list[str] | None = None) -> str:
    buf = io.StringIO()
    fields = fields or list(dict.fromkeys(k for r in rows for k in r))
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def _json_default(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return str(x)


def _clean(x):
    """NaN/inf are not JSON: written as null."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def to_json(obj) -> str:
    return json.dumps(_clean(obj), indent=2, default=_json_default)


def check_output_path(path: Path, what: str = "-o") -> Path:
    """Refuse anything but a regular file (or a new name in an existing or creatable folder)."""
    path = Path(path)
    if path.is_symlink():
        raise LicBenchError(f"{what} {path}: is a symbolic link; give the path of a regular file")
    if path.exists():
        mode = path.stat().st_mode
        if stat.S_ISDIR(mode):
            raise LicBenchError(f"{what} {path}: is a folder; give a file path, e.g. {path / 'report.html'}")
        if not stat.S_ISREG(mode):
            raise LicBenchError(f"{what} {path}: is not a regular file (a device or pipe); give a file path")
    return path


def write_text_atomic(path: Path, text: str, what: str = "-o") -> Path:
    """Write `text` to `path` atomically; returns the path. Refuses non-regular targets."""
    path = check_output_path(path, what)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise LicBenchError(f"{what} {path}: cannot write there ({e.strerror}); choose another path") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise LicBenchError(f"{what} {path}: cannot write ({e.strerror}); nothing was changed") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
