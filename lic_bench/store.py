"""The result store: one SQLite database (WAL), records keyed by provenance. Every SQL statement of
lic-bench lives in this module.

A record's key is (metric version, codec spec digest, operating point, image pixel sha256). A
finished key is never recomputed; failed keys are retried by the next run. Each record is committed
on its own, so a killed run loses at most the jobs in flight, and the unique key means a rerun can
never duplicate a record. Several processes may write at once (SQLite locking, busy timeout).

The schema is versioned (``meta.schema_version``); a store written by an older lic-bench is
migrated in place when it is opened (asv's ``update_to_N`` model), a newer one is refused.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable

from .errors import LicBenchError
from .record import KEY_FIELDS, STORED_FIELDS, Record

SCHEMA_VERSION = 3
STORE_ENV = "LIC_BENCH_STORE"
DEFAULT_STORE = Path("results") / "lic-bench.sqlite"
#: Kept for scripts that read the columns by name.
RECORD_COLUMNS = STORED_FIELDS
_COLUMN_TYPES = {"op": "REAL NOT NULL", "metric_version": "TEXT NOT NULL", "spec_digest": "TEXT NOT NULL",
                 "pixel_sha256": "TEXT NOT NULL", "status": "TEXT NOT NULL", "bytes": "INTEGER", "payload_bytes": "INTEGER",
                 "height": "INTEGER", "width": "INTEGER", "mismatch": "INTEGER"}
_REAL = {"sse_r", "sse_g", "sse_b", "sse_y", "sse_cb", "sse_cr", "ms_ssim", "enc_s", "dec_s", "created"}


def _records_ddl() -> str:
    cols = ", ".join(f"{c} {_COLUMN_TYPES.get(c, 'REAL' if c in _REAL else 'TEXT')}" for c in STORED_FIELDS)
    return f"CREATE TABLE IF NOT EXISTS records ({cols}, PRIMARY KEY ({', '.join(KEY_FIELDS)}));"


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS specs (
    digest TEXT PRIMARY KEY, name TEXT NOT NULL, adapter TEXT NOT NULL, identity TEXT NOT NULL,
    spec TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS specs_name ON specs(name);
CREATE TABLE IF NOT EXISTS spec_names (digest TEXT NOT NULL, name TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (digest, name));
CREATE TABLE IF NOT EXISTS datasets (
    content_sha256 TEXT NOT NULL, name TEXT NOT NULL, folder TEXT NOT NULL DEFAULT '', created REAL NOT NULL,
    PRIMARY KEY (content_sha256, name, folder));
CREATE TABLE IF NOT EXISTS dataset_images (
    content_sha256 TEXT NOT NULL, image TEXT NOT NULL, pixel_sha256 TEXT NOT NULL,
    width INTEGER, height INTEGER, flags TEXT, PRIMARY KEY (content_sha256, image));
CREATE TABLE IF NOT EXISTS file_hashes (
    path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, pixel_sha256 TEXT, width INTEGER, height INTEGER, flags TEXT);
CREATE TABLE IF NOT EXISTS bitstreams (sha256 TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS complexity (
    spec_digest TEXT NOT NULL, size TEXT NOT NULL, device TEXT NOT NULL, data TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (spec_digest, size, device));
CREATE TABLE IF NOT EXISTS metric_values (
    metric_version TEXT NOT NULL, spec_digest TEXT NOT NULL, op REAL NOT NULL, pixel_sha256 TEXT NOT NULL,
    metric TEXT NOT NULL, identity TEXT NOT NULL, value REAL, created REAL NOT NULL,
    PRIMARY KEY (metric_version, spec_digest, op, pixel_sha256, metric, identity));
CREATE TABLE IF NOT EXISTS curves (
    name TEXT NOT NULL, dataset TEXT NOT NULL, kind TEXT NOT NULL, provenance TEXT NOT NULL,
    points TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (name, dataset));
""" + _records_ddl()


def _migrate_1_to_2(db: sqlite3.Connection) -> None:
    """v2: every name a spec was run under is kept (spec_names), and a dataset content may live in
    several folders under several names (datasets keyed by content, name and folder)."""
    db.execute("CREATE TABLE spec_names (digest TEXT NOT NULL, name TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (digest, name))")
    db.execute("INSERT OR IGNORE INTO spec_names SELECT digest, name, created FROM specs")
    db.execute("ALTER TABLE datasets RENAME TO datasets_v1")
    db.execute("CREATE TABLE datasets (content_sha256 TEXT NOT NULL, name TEXT NOT NULL, folder TEXT NOT NULL DEFAULT '', "
               "created REAL NOT NULL, PRIMARY KEY (content_sha256, name, folder))")
    db.execute("INSERT OR IGNORE INTO datasets SELECT content_sha256, name, COALESCE(folder, ''), created FROM datasets_v1")
    db.execute("DROP TABLE datasets_v1")


def _migrate_2_to_3(db: sqlite3.Connection) -> None:
    """v3: values of pixel metrics computed by a tool or model (SSIMULACRA 2, Butteraugli, LPIPS…),
    keyed by the record's key, the metric and the identity of what computed it."""
    db.execute("CREATE TABLE metric_values (metric_version TEXT NOT NULL, spec_digest TEXT NOT NULL, op REAL NOT NULL, "
               "pixel_sha256 TEXT NOT NULL, metric TEXT NOT NULL, identity TEXT NOT NULL, value REAL, created REAL NOT NULL, "
               "PRIMARY KEY (metric_version, spec_digest, op, pixel_sha256, metric, identity))")


#: from-version -> migration to the next version
MIGRATIONS = {1: _migrate_1_to_2, 2: _migrate_2_to_3}
#: Opening retries while another process creates or migrates the same store (SQLite answers "locked"
#: without waiting while a database changes journal mode).
OPEN_ATTEMPTS = 40


def default_path() -> Path:
    return Path(os.environ.get(STORE_ENV) or DEFAULT_STORE)


def _foreign_tables(path: Path) -> list[str] | None:
    """Tables of an existing SQLite file that is not a lic-bench store (None when it is ours or empty).
    Read through a read-only connection, so a file that is not ours is never modified."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    with open(path, "rb") as f:
        if f.read(16) != b"SQLite format 3\x00":
            raise LicBenchError(f"--store {path}: not a SQLite file (and not a lic-bench store); choose another --store PATH")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return None
        if "meta" in tables and "records" in tables and \
                db.execute("SELECT 1 FROM meta WHERE key='schema_version'").fetchone() is not None:
            return None
        return sorted(tables)
    finally:
        db.close()


class Store:
    """Access to the results database: every query lic-bench makes is a method here."""

    def __init__(self, path: str | Path | None = None, readonly: bool = False) -> None:
        self.path = Path(path) if path else default_path()
        self.readonly = readonly
        self.db = None
        for attempt in range(OPEN_ATTEMPTS):
            try:
                self._open()
                break
            except sqlite3.OperationalError as e:
                # another process is creating or migrating the same store: wait for it, briefly
                if ("locked" in str(e) or "busy" in str(e)) and attempt < OPEN_ATTEMPTS - 1:
                    if self.db is not None:
                        self.db.close()
                        self.db = None
                    time.sleep(min(0.05 * (attempt + 1), 0.5))
                    continue
                raise LicBenchError(f"results store {self.path}: {e}; choose another with --store PATH") from None
            except sqlite3.DatabaseError as e:
                raise LicBenchError(f"results store {self.path}: {e}; choose another with --store PATH") from None
            except PermissionError as e:
                raise LicBenchError(f"results store {self.path}: {e.strerror}; choose another with --store PATH") from None
        self.db.row_factory = sqlite3.Row

    def _open(self) -> None:
        """Open (and create or migrate) the store; sqlite3 errors propagate to __init__."""
        foreign = _foreign_tables(self.path) if self.path.exists() else None
        if foreign:
            raise LicBenchError(f"--store {self.path}: not a lic-bench results store (it holds tables {', '.join(foreign[:4])}); "
                                "it was left untouched — choose another --store PATH")
        if self.readonly:
            if not self.path.is_file():
                raise LicBenchError(f"no results store at {self.path}; run `lic-bench run` first or pass --store PATH")
            if self._stored_version() < SCHEMA_VERSION and os.access(self.path, os.W_OK):
                Store(self.path).close()  # an older store is migrated once, by a writable open
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=60)
            self._check_schema()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not os.access(self.path.parent, os.W_OK) or (self.path.exists() and not os.access(self.path, os.W_OK)):
                raise LicBenchError(f"results store {self.path} is not writable; choose another with --store PATH or fix permissions")
            self.db = sqlite3.connect(self.path, timeout=60)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self._create_or_migrate()

    def _stored_version(self) -> int:
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=60)
        try:
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            return int(row[0]) if row else SCHEMA_VERSION
        except sqlite3.DatabaseError:
            return SCHEMA_VERSION
        finally:
            db.close()

    def _create_or_migrate(self) -> None:
        has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() if has_meta else None
        if row is None:  # a new store
            self.db.executescript(_SCHEMA)
            with self.db:
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('application', 'lic-bench')")
            return
        version = int(row[0])
        if version > SCHEMA_VERSION:
            raise LicBenchError(f"results store {self.path} has schema {version}, newer than this lic-bench's {SCHEMA_VERSION}; "
                                "upgrade lic-bench or use another --store")
        while version < SCHEMA_VERSION:
            with self.db:  # each step is one transaction: a crash leaves the previous version intact
                MIGRATIONS[version](self.db)
                version += 1
                self.db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))
                self.db.execute("INSERT OR IGNORE INTO meta VALUES ('application', 'lic-bench')")
        self.db.executescript(_SCHEMA)  # indexes/tables added without a version change

    def _check_schema(self) -> None:
        row = self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is not None and int(row[0]) != SCHEMA_VERSION:
            raise LicBenchError(f"results store {self.path} has schema {row[0]}, this lic-bench reads {SCHEMA_VERSION}; "
                                "open it once with write access to migrate it, or use another --store")

    @property
    def schema_version(self) -> int:
        return int(self.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    @contextmanager
    def _writing(self):
        """One transaction; a full disk or an I/O error is one line naming the store (SQLite rolls the
        transaction back, so the store stays consistent and every earlier record is kept)."""
        try:
            with self.db:
                yield
        except sqlite3.OperationalError as e:
            text = str(e)
            if "full" in text or "disk I/O" in text or "readonly" in text or "read-only" in text:
                raise LicBenchError(f"results store {self.path}: {text}; free space (or fix the file system) and rerun "
                                    "the same command — finished results are kept") from None
            raise

    def __exit__(self, *exc):
        self.close()

    # ---- specs: a digest is stored once; every name it was run under is an alias, never a rename
    def put_spec(self, digest: str, name: str, adapter: str, identity: dict, spec: dict) -> None:
        now = time.time()
        with self._writing():
            self.db.execute("INSERT OR IGNORE INTO specs VALUES (?,?,?,?,?,?)",
                            (digest, name, adapter, json.dumps(identity, sort_keys=True), json.dumps(spec, sort_keys=True), now))
            self.db.execute("INSERT OR IGNORE INTO spec_names VALUES (?,?,?)", (digest, name, now))

    def spec(self, digest: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM specs WHERE digest=?", (digest,)).fetchone()

    def specs(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM specs ORDER BY name, digest").fetchall()

    def specs_by_digest_prefix(self, prefix: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM specs WHERE digest LIKE ? ORDER BY digest", (prefix + "%",)).fetchall()

    def spec_names(self, digest: str | None = None) -> list[str]:
        """Names a spec was run under (all names when digest is None), oldest first."""
        if digest is None:
            return [r[0] for r in self.db.execute("SELECT DISTINCT name FROM spec_names ORDER BY name")]
        return [r[0] for r in self.db.execute("SELECT name FROM spec_names WHERE digest=? ORDER BY created, name", (digest,))]

    def digests_named(self, name: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT digest FROM spec_names WHERE name=? ORDER BY digest", (name,))]

    # ---- datasets: identified by content; names and folders are where that content was seen
    def put_dataset(self, content_sha256: str, name: str, folder: str, members: Iterable[tuple]) -> None:
        with self._writing():
            folder = folder.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            self.db.execute("INSERT OR IGNORE INTO datasets VALUES (?,?,?,?)", (content_sha256, name, folder, time.time()))
            self.db.executemany("INSERT OR IGNORE INTO dataset_images VALUES (?,?,?,?,?,?)",
                                [(content_sha256, *m) for m in members])

    def dataset_rows(self, *, name: str | None = None, folder: str | None = None, content_prefix: str | None = None) -> list[sqlite3.Row]:
        """Where dataset contents were seen, filtered by name, folder or content-hash prefix."""
        where, args = [], []
        for col, val in (("name", name), ("folder", folder)):
            if val is not None:
                where.append(f"{col}=?")
                args.append(val)
        if content_prefix is not None:
            where.append("content_sha256 LIKE ?")
            args.append(content_prefix + "%")
        sql = "SELECT * FROM datasets" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY created"
        return self.db.execute(sql, args).fetchall()

    def datasets_with_images(self, pixel_shas) -> list[sqlite3.Row]:
        """Stored dataset contents (with a name each) that hold any of these images."""
        wanted = set(pixel_shas)
        contents = {r[0] for r in self.db.execute("SELECT content_sha256, pixel_sha256 FROM dataset_images") if r[1] in wanted}
        rows = {r["content_sha256"]: r for r in self.db.execute("SELECT * FROM datasets ORDER BY created") if r["content_sha256"] in contents}
        return list(rows.values())

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
        with self._writing():
            self.db.execute("INSERT OR REPLACE INTO file_hashes VALUES (?,?,?,?,?,?,?)",
                            (self._path_key(path), st.st_size, st.st_mtime_ns, pixel_sha256, width, height, json.dumps(flags)))

    # ---- records
    def done_keys(self, metric_version: str, spec_digest: str) -> set[tuple[float, str]]:
        rows = self.db.execute(
            "SELECT op, pixel_sha256 FROM records WHERE metric_version=? AND spec_digest=? AND status='ok'",
            (metric_version, spec_digest))
        return {(r[0], r[1]) for r in rows}

    def put_record(self, spec_digest: str, rec: Record | dict, keep_bitstream: bool = True) -> bool:
        """Insert one record in its own transaction. An existing 'ok' record is never replaced.

        Returns True when the record was written.
        """
        rec = rec if isinstance(rec, Record) else Record.from_mapping(rec)
        row = {c: getattr(rec, c) for c in STORED_FIELDS}
        row.update(spec_digest=spec_digest, created=time.time(), host=socket.gethostname(),
                   flags=json.dumps(rec.flags or []), extra=json.dumps(rec.extra or {}, default=str))
        if row["mismatch"] is not None:
            row["mismatch"] = int(bool(row["mismatch"]))
        cols = ",".join(STORED_FIELDS)
        qs = ",".join("?" for _ in STORED_FIELDS)
        updates = ",".join(f"{c}=excluded.{c}" for c in STORED_FIELDS)
        with self._writing():
            cur = self.db.execute(
                f"INSERT INTO records ({cols}) VALUES ({qs}) ON CONFLICT({', '.join(KEY_FIELDS)}) "
                f"DO UPDATE SET {updates} WHERE records.status != 'ok'",
                [row[c] for c in STORED_FIELDS])
            if keep_bitstream and rec.bitstream is not None and rec.bitstream_sha256:
                self.db.execute("INSERT OR IGNORE INTO bitstreams VALUES (?,?)", (rec.bitstream_sha256, rec.bitstream))
            if cur.rowcount > 0 and rec.metrics:
                self._put_metric_values(spec_digest, rec)
            return cur.rowcount > 0

    def _put_metric_values(self, spec_digest: str, rec: Record) -> None:
        self.db.executemany("INSERT OR REPLACE INTO metric_values VALUES (?,?,?,?,?,?,?,?)",
                            [(rec.metric_version, spec_digest, rec.op, rec.pixel_sha256, name, rec.metric_ids[name], value, time.time())
                             for name, value in rec.metrics.items()])

    def put_metric_values(self, spec_digest: str, rec: Record) -> None:
        """Add pixel-metric values (rec.metrics, rec.metric_ids) to an existing record's key."""
        with self.db:
            self._put_metric_values(spec_digest, rec)

    def metric_rows(self, metric_version: str, spec_digest: str) -> dict[tuple[float, str], list[tuple[str, str, float]]]:
        """(op, pixel sha256) -> [(metric, identity, value)] of one spec."""
        out: dict = {}
        for r in self.db.execute("SELECT op, pixel_sha256, metric, identity, value FROM metric_values "
                                 "WHERE metric_version=? AND spec_digest=?", (metric_version, spec_digest)):
            out.setdefault((r[0], r[1]), []).append((r[2], r[3], r[4]))
        return out

    @staticmethod
    def _record(row: sqlite3.Row) -> Record:
        d = dict(row)
        d["flags"] = json.loads(d["flags"] or "[]")
        d["extra"] = json.loads(d["extra"] or "{}")
        return Record.from_mapping(d)

    def records_for(self, metric_version: str, spec_digest: str, pixel_shas: Iterable[str] | None = None) -> list[Record]:
        rows = self.db.execute("SELECT * FROM records WHERE metric_version=? AND spec_digest=? ORDER BY op",
                               (metric_version, spec_digest)).fetchall()
        from .measure import choose

        wanted = set(pixel_shas) if pixel_shas is not None else None
        out = [self._record(r) for r in rows if wanted is None or r["pixel_sha256"] in wanted]
        extra = self.metric_rows(metric_version, spec_digest) if out else {}
        for rec in out:
            if (rec.op, rec.pixel_sha256) in extra:
                rec.metrics, rec.metric_ids = choose(extra[(rec.op, rec.pixel_sha256)])
        return out

    def digests_with_records(self, metric_version: str, pixel_shas: Iterable[str]) -> set[str]:
        """Specs with at least one record on any of these images."""
        wanted = set(pixel_shas)
        rows = self.db.execute("SELECT DISTINCT spec_digest, pixel_sha256 FROM records WHERE metric_version=?", (metric_version,))
        return {r[0] for r in rows if r[1] in wanted}

    def bitstream(self, sha256: str) -> bytes | None:
        row = self.db.execute("SELECT data FROM bitstreams WHERE sha256=?", (sha256,)).fetchone()
        return bytes(row[0]) if row else None

    def delete_records(self, keys: Iterable[tuple[str, str, float, str]]) -> int:
        """Delete the records with these keys (metric version, spec digest, op, pixel sha256) in one
        transaction, and the stored bitstreams no record refers to any more; returns how many records."""
        keys = list(keys)
        with self._writing():
            n = sum(self.db.execute(f"DELETE FROM records WHERE {' AND '.join(f'{k}=?' for k in KEY_FIELDS)}", key).rowcount
                    for key in keys)
            self.db.execute("DELETE FROM bitstreams WHERE sha256 NOT IN "
                            "(SELECT bitstream_sha256 FROM records WHERE bitstream_sha256 IS NOT NULL)")
        return n

    def count_records(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM records").fetchone()[0]

    # ---- named curves (imported CompressAI JSON)
    def put_curve(self, name: str, dataset: str, kind: str, provenance: dict, points: dict) -> None:
        with self._writing():
            self.db.execute("INSERT OR REPLACE INTO curves VALUES (?,?,?,?,?,?)",
                            (name, dataset, kind, json.dumps(provenance), json.dumps(points), time.time()))

    def curve(self, name: str, dataset: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM curves WHERE name=? AND dataset=?", (name, dataset)).fetchone()

    def curves_for(self, dataset: str) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM curves WHERE dataset=? ORDER BY name", (dataset,)).fetchall()

    # ---- complexity
    def put_complexity(self, spec_digest: str, size: str, device: str, data: dict) -> None:
        with self._writing():
            self.db.execute("INSERT OR REPLACE INTO complexity VALUES (?,?,?,?,?)",
                            (spec_digest, size, device, json.dumps(data, default=str), time.time()))

    def complexity_for(self, spec_digest: str) -> dict | None:
        row = self.db.execute("SELECT data FROM complexity WHERE spec_digest=? ORDER BY created DESC", (spec_digest,)).fetchone()
        return json.loads(row[0]) if row else None
