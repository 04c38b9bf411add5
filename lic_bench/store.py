"""The result store: one SQLite database (WAL), records keyed by provenance.

A record's key is (metric version, codec spec digest, operating point, image pixel sha256). A
finished key is never recomputed; failed keys are retried by the next run. Each record is committed
on its own, so a killed run loses at most the jobs in flight, and the unique key means a rerun can
never duplicate a record. Several processes may write at once (SQLite locking, busy timeout).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from pathlib import Path
from typing import Iterable

from .errors import LicBenchError

SCHEMA_VERSION = 1
STORE_ENV = "LIC_BENCH_STORE"
DEFAULT_STORE = Path("results") / "lic-bench.sqlite"

RECORD_COLUMNS = (
    "metric_version", "spec_digest", "op", "pixel_sha256", "status", "error", "bytes", "payload_bytes",
    "height", "width", "sse_r", "sse_g", "sse_b", "sse_y", "sse_cb", "sse_cr", "ms_ssim", "ms_ssim_note",
    "enc_s", "dec_s", "bitstream_sha256", "bitstream_md5", "decoded_sha256", "expected_sha256", "mismatch",
    "flags", "extra", "created", "host",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS specs (
    digest TEXT PRIMARY KEY, name TEXT NOT NULL, adapter TEXT NOT NULL, identity TEXT NOT NULL,
    spec TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS specs_name ON specs(name);
CREATE TABLE IF NOT EXISTS datasets (
    content_sha256 TEXT PRIMARY KEY, name TEXT NOT NULL, folder TEXT, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS dataset_images (
    content_sha256 TEXT NOT NULL, image TEXT NOT NULL, pixel_sha256 TEXT NOT NULL,
    width INTEGER, height INTEGER, flags TEXT, PRIMARY KEY (content_sha256, image));
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, pixel_sha256 TEXT, width INTEGER, height INTEGER, flags TEXT);
CREATE TABLE IF NOT EXISTS records (
    metric_version TEXT NOT NULL, spec_digest TEXT NOT NULL, op REAL NOT NULL, pixel_sha256 TEXT NOT NULL,
    status TEXT NOT NULL, error TEXT, bytes INTEGER, payload_bytes INTEGER, height INTEGER, width INTEGER,
    sse_r REAL, sse_g REAL, sse_b REAL, sse_y REAL, sse_cb REAL, sse_cr REAL, ms_ssim REAL, ms_ssim_note TEXT,
    enc_s REAL, dec_s REAL, bitstream_sha256 TEXT, bitstream_md5 TEXT, decoded_sha256 TEXT, expected_sha256 TEXT,
    mismatch INTEGER, flags TEXT, extra TEXT, created REAL, host TEXT,
    PRIMARY KEY (metric_version, spec_digest, op, pixel_sha256));
CREATE TABLE IF NOT EXISTS bitstreams (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS complexity (
    spec_digest TEXT NOT NULL, size TEXT NOT NULL, device TEXT NOT NULL, data TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (spec_digest, size, device));
CREATE TABLE IF NOT EXISTS curves (
    name TEXT NOT NULL, dataset TEXT NOT NULL, kind TEXT NOT NULL, provenance TEXT NOT NULL,
    points TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (name, dataset));
"""


def default_path() -> Path:
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)


class Store:
    """Thin, explicit access to the results database."""

    def __init__(self, path: str | Path | None = None, readonly: bool = False) -> None:
        self.path = Path(path) if path else default_path()
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.is_file():
                    raise LicBenchError(f"no results store at {self.path}; run `lic-bench run` first or pass --store PATH")
                self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=60)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                if not os.access(self.path.parent, os.W_OK) or (self.path.exists() and not os.access(self.path, os.W_OK)):
                    raise LicBenchError(f"results store {self.path} is not writable; choose another with --store PATH or fix permissions")
                self.db = sqlite3.connect(self.path, timeout=60)
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")
                self.db.executescript(_SCHEMA)
                self._check_schema()
        except sqlite3.DatabaseError as e:
            raise LicBenchError(f"results store {self.path}: {e}; choose another with --store PATH") from None
        except PermissionError as e:
            raise LicBenchError(f"results store {self.path}: {e.strerror}; choose another with --store PATH") from None
        self.db.row_factory = sqlite3.Row

    def _check_schema(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            self.db.commit()
        elif int(row[0]) != SCHEMA_VERSION:
            raise LicBenchError(f"results store {self.path} has schema {row[0]}, this lic-bench needs {SCHEMA_VERSION}; use another --store")

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- specs and datasets
    def put_spec(self, digest: str, name: str, adapter: str, identity: dict, spec: dict) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO specs VALUES (?,?,?,?,?,?) ON CONFLICT(digest) DO UPDATE SET name=excluded.name, spec=excluded.spec",
                (digest, name, adapter, json.dumps(identity, sort_keys=True), json.dumps(spec, sort_keys=True), time.time()))

    def specs_named(self, name: str) -> list[sqlite3.Row]:
        """Specs stored under `name`, newest first."""
        return self.db.execute("SELECT * FROM specs WHERE name=? ORDER BY created DESC", (name,)).fetchall()

    def spec(self, digest: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM specs WHERE digest=?", (digest,)).fetchone()

    def put_dataset(self, content_sha256: str, name: str, folder: str, members: Iterable[tuple]) -> None:
        with self.db:
            folder = folder.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            self.db.execute("INSERT OR IGNORE INTO datasets VALUES (?,?,?,?)", (content_sha256, name, folder, time.time()))
            self.db.executemany("INSERT OR IGNORE INTO dataset_images VALUES (?,?,?,?,?,?)",
                                [(content_sha256, *m) for m in members])

    def dataset_versions(self, name: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM datasets WHERE name=? ORDER BY created DESC", (name,)).fetchall()

    def dataset_members(self, content_sha256: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM dataset_images WHERE content_sha256=? ORDER BY image", (content_sha256,)).fetchall()

    # ---- file hash cache (so a cached rerun does not decode every image)
    @staticmethod
    def _path_key(path: Path) -> str:
        return str(path.resolve()).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")

    def cached_file_hash(self, path: Path) -> sqlite3.Row | None:
        st = path.stat()
        row = self.db.execute("SELECT * FROM file_hashes WHERE path=?", (self._path_key(path),)).fetchone()
        if row and row["size"] == st.st_size and row["mtime_ns"] == st.st_mtime_ns:
            return row
        return None

    def put_file_hash(self, path: Path, pixel_sha256: str, width: int, height: int, flags: list[str]) -> None:
        st = path.stat()
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO file_hashes VALUES (?,?,?,?,?,?,?)",
                            (self._path_key(path), st.st_size, st.st_mtime_ns, pixel_sha256, width, height, json.dumps(flags)))

    # ---- records
    def done_keys(self, metric_version: str, spec_digest: str) -> set[tuple[float, str]]:
        rows = self.db.execute(
            "SELECT op, pixel_sha256 FROM records WHERE metric_version=? AND spec_digest=? AND status='ok'",
            (metric_version, spec_digest))
        return {(r[0], r[1]) for r in rows}

    def put_record(self, spec_digest: str, rec: dict, keep_bitstream: bool = True) -> bool:
        """Insert one record in its own transaction. An existing 'ok' record is never replaced.

        Returns True when the record was written.
        """
        row = {c: rec.get(c) for c in RECORD_COLUMNS}
        row.update(spec_digest=spec_digest, created=time.time(), host=socket.gethostname(),
                   flags=json.dumps(rec.get("flags") or []), extra=json.dumps(rec.get("extra") or {}, default=str))
        if row["mismatch"] is not None:
            row["mismatch"] = int(bool(row["mismatch"]))
        cols = ",".join(RECORD_COLUMNS)
        qs = ",".join("?" for _ in RECORD_COLUMNS)
        updates = ",".join(f"{c}=excluded.{c}" for c in RECORD_COLUMNS)
        with self.db:
            cur = self.db.execute(
                f"INSERT INTO records ({cols}) VALUES ({qs}) ON CONFLICT(metric_version, spec_digest, op, pixel_sha256) "
                f"DO UPDATE SET {updates} WHERE records.status != 'ok'",
                [row[c] for c in RECORD_COLUMNS])
            if keep_bitstream and rec.get("bitstream") is not None and rec.get("bitstream_sha256"):
                self.db.execute("INSERT OR IGNORE INTO bitstreams VALUES (?,?)", (rec["bitstream_sha256"], rec["bitstream"]))
            return cur.rowcount > 0

    def records_for(self, metric_version: str, spec_digest: str, pixel_shas: Iterable[str] | None = None) -> list[dict]:
        rows = self.db.execute("SELECT * FROM records WHERE metric_version=? AND spec_digest=? ORDER BY op",
                               (metric_version, spec_digest)).fetchall()
        wanted = set(pixel_shas) if pixel_shas is not None else None
        out = []
        for r in rows:
            if wanted is not None and r["pixel_sha256"] not in wanted:
                continue
            d = dict(r)
            d["flags"] = json.loads(d["flags"] or "[]")
            d["extra"] = json.loads(d["extra"] or "{}")
            out.append(d)
        return out

    def bitstream(self, sha256: str) -> bytes | None:
        row = self.db.execute("SELECT data FROM bitstreams WHERE sha256=?", (sha256,)).fetchone()
        return bytes(row[0]) if row else None

    # ---- named curves (imported CompressAI JSON, shipped references)
    def put_curve(self, name: str, dataset: str, kind: str, provenance: dict, points: dict) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO curves VALUES (?,?,?,?,?,?)",
                            (name, dataset, kind, json.dumps(provenance), json.dumps(points), time.time()))

    def curves_for(self, dataset: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM curves WHERE dataset=? ORDER BY name", (dataset,)).fetchall()

    def put_complexity(self, spec_digest: str, size: str, device: str, data: dict) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO complexity VALUES (?,?,?,?,?)",
                            (spec_digest, size, device, json.dumps(data, default=str), time.time()))

    def complexity_for(self, spec_digest: str) -> dict | None:
        row = self.db.execute("SELECT data FROM complexity WHERE spec_digest=? ORDER BY created DESC", (spec_digest,)).fetchone()
        return json.loads(row[0]) if row else None

    def count_records(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM records").fetchone()[0]
