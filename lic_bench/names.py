"""What the user's names mean: one resolver for datasets and curves, used by every command and the
Python API.

* A **dataset** is identified by its content (image names and decoded-pixel hashes). The user may
  name it by a registered name (``kodak``), a folder path (what they gave ``run``), a folder's
  basename (as earlier versions stored it) or the content hash a run printed (a prefix of ≥ 8 hex).
* A **curve** is the set of results the user named: a measured codec spec (with or without inline
  options, ``NAME@DIGEST`` for one stored spec), an imported curve, ``NAME@paper`` (reported in a
  paper), ``NAME@shipped`` (a shipped anchor), or a shipped anchor by name.

Measured results are found by identity, never by "newest": specs whose identity parameters
(adapter, parameters that change the output, colour policy) equal the named spec's are candidates;
options that do not change the output never rename or hide anything, a failed or partial attempt
never hides complete results, and per-quality checkpoints of one architecture form one curve. When
two different complete results exist for the same operating point, the name is ambiguous and the
error lists the candidates.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import METRIC_VERSION
from .errors import LicBenchError, did_you_mean
from .record import Record

HEX = re.compile(r"^[0-9a-f]{8,64}$")


# ---------------------------------------------------------------- datasets

@dataclass(frozen=True)
class DatasetRef:
    """A dataset as stored: its display name, content hash and images (pixel sha256 -> image name)."""

    name: str
    content_sha256: str
    folder: str
    images: dict[str, str]
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def short(self) -> str:
        return self.content_sha256[:12]

    def describe(self) -> str:
        return f"{self.name} ({len(self.images)} images, content {self.short})"


def _ref(store, name: str, content: str, folder: str) -> DatasetRef:
    members = store.dataset_members(content)
    return DatasetRef(name, content, folder, {m["pixel_sha256"]: m["image"] for m in members},
                      {m["image"]: (m["width"], m["height"]) for m in members})


def _candidates_text(rows) -> str:
    """One entry per stored dataset content (with every folder it was seen in), absolute paths."""
    by_content: dict[str, list] = {}
    for r in rows:
        by_content.setdefault(r["content_sha256"], []).append(r)
    return "; ".join(f"{c[:12]} ({rs[0]['name']} in {', '.join(sorted({str(Path(x['folder']).resolve()) if x['folder'] else '?' for x in rs}))})"
                     for c, rs in by_content.items())


def resolve_dataset(store, text: str, data_dir=None) -> DatasetRef:
    """The stored dataset `text` names (registered name, folder path, basename or content hash)."""
    from .datasets import index_dataset, locate

    text = str(text).strip()
    if HEX.match(text):
        rows = store.dataset_rows(content_prefix=text)
        contents = {r["content_sha256"] for r in rows}
        if len(contents) == 1:
            r = rows[0]
            return _ref(store, r["name"], r["content_sha256"], r["folder"])
        if len(contents) > 1:
            raise LicBenchError(f"--dataset {text}: the content-hash prefix matches {len(contents)} datasets: {_candidates_text(rows)}; give more digits")
    try:
        ds = locate(text, data_dir)
    except LicBenchError as located_error:
        return _by_name(store, text, located_error)
    content, images, _ = index_dataset(ds, store)
    rows = store.dataset_rows(content_prefix=content)
    if rows:
        return _ref(store, ds.name, content, str(ds.folder))
    seen = store.dataset_rows(folder=str(ds.folder)) or store.dataset_rows(name=ds.name)
    if seen:
        raise LicBenchError(f"--dataset {text}: no results for its current images (content {content[:12]}) in {store.path}; "
                            f"the store has results for other contents of {ds.name!r}: {_candidates_text(seen)}. "
                            f"Run `lic-bench run --dataset {text} ...`, or name a stored content by its hash")
    raise LicBenchError(f"no results for dataset {text!r} (content {content[:12]}) in {store.path}; "
                        f"run `lic-bench run --dataset {text} ...` first")


def _by_name(store, text: str, located_error: LicBenchError) -> DatasetRef:
    rows = store.dataset_rows(name=text)
    contents = list(dict.fromkeys(r["content_sha256"] for r in rows))
    if len(contents) == 1:
        return _ref(store, text, contents[0], rows[-1]["folder"])
    folders = {r["folder"] for r in rows}
    if len(contents) > 1 and len(folders) == 1 and Path(next(iter(folders))).is_dir():
        return resolve_dataset(store, next(iter(folders)))  # one folder whose images changed: its current content
    if len(contents) > 1:
        raise LicBenchError(f"--dataset {text!r} is ambiguous: {len(contents)} different datasets were run under this name: "
                            f"{_candidates_text(rows)}; name one by its folder path or content hash")
    names = sorted({r["name"] for r in store.dataset_rows()})
    if names:
        raise LicBenchError(f"no results for dataset {text!r} in {store.path}{did_you_mean(text, names)}; "
                            f"stored datasets: {', '.join(names)} ({located_error})")
    raise LicBenchError(f"no results for dataset {text!r} in {store.path}; run `lic-bench run --dataset {text} ...` first")


# ---------------------------------------------------------------- measured results

@dataclass
class CodecResults:
    """The stored results one name means on one dataset: records of one or more spec digests
    (several when, e.g., each quality was run with its own checkpoint)."""

    name: str
    digests: list[str]
    identity: dict
    spec: dict
    dataset: str
    content_sha256: str
    records: list[Record]  # each with .image set
    n_images: int
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if isinstance(self.digests, str):
            self.digests = [self.digests]
        self.records = [r if isinstance(r, Record) else Record.from_mapping(r) for r in self.records]

    @property
    def digest(self) -> str:
        return "+".join(self.digests)

    def points(self, aggregation: str = "mean"):
        from .aggregate import aggregate

        return aggregate(self.records, aggregation)

    @property
    def random_init(self) -> bool:
        return bool(self.identity.get("provenance", {}).get("random_init"))


@dataclass
class _Stored:
    digest: str
    name: str
    adapter: str
    identity: dict
    spec: dict
    records: list[Record]


def _identity_key(identity: dict) -> str:
    return json.dumps({k: identity.get(k) for k in ("adapter", "params", "color", "target")}, sort_keys=True, default=str)


def _stored(store, digest: str, ds: DatasetRef) -> _Stored | None:
    row = store.spec(digest)
    if row is None:
        return None
    recs = store.records_for(METRIC_VERSION, digest, ds.images)
    for r in recs:
        r.image = ds.images[r.pixel_sha256]
    return _Stored(digest, row["name"], row["adapter"], json.loads(row["identity"]), json.loads(row["spec"]), recs)


def _wanted_identity(spec) -> tuple[dict, dict] | None:
    """(identity key fields, static provenance facts) of a spec, computed without building the adapter;
    None when its adapter cannot be imported here."""
    from .registry import adapter_class

    try:
        cls = adapter_class(spec.adapter)
        params = cls.identity_of(spec.params)
        facts = cls.static_provenance(cls.resolve_params(spec.params))
    except LicBenchError:
        return None
    color = (spec.color or "bt709-8bit") if cls.colorspace != "rgb" else None
    return {"adapter": spec.adapter, "params": params, "color": color, "target": spec.target}, facts


def _merge(a, b):
    """Identity of a curve made of several specs: dictionaries merged (e.g. per-quality weights)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _merge(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k)) for k in {**a, **b}}
    return a


def _combine(name: str, parts: list[_Stored], ds: DatasetRef) -> CodecResults:
    """One curve from candidate specs: per operating point, the complete results win; two different
    complete results for one point make the name ambiguous."""
    from .gating import identity_changes

    n = len(ds.images)
    ops = sorted({r.op for p in parts for r in p.records})
    chosen: dict[float, _Stored] = {}
    for op in ops:
        at = [(p, [r for r in p.records if r.op == op]) for p in parts]
        at = [(p, rs) for p, rs in at if rs]
        complete = [p for p, rs in at if len(rs) == n and all(r.ok for r in rs)]
        if len(complete) == 1:
            chosen[op] = complete[0]
            continue
        if not complete:
            best = max(sum(r.ok for r in rs) for _, rs in at)
            top = [p for p, rs in at if sum(r.ok for r in rs) == best]
            if len(top) == 1 or best == 0:
                chosen[op] = top[0]
                continue
            complete = top
        first = complete[0]
        diffs = "; ".join(f"{p.digest[:12]}" + (f" ({', '.join(identity_changes(first.identity, p.identity)[:2])})" if p is not first else "")
                          for p in complete)
        raise LicBenchError(f"codec {name!r} is ambiguous on {ds.name}: {len(complete)} different results at operating point {op:g}: "
                            f"{diffs}; name one as {name.split('@')[0]}@DIGEST (e.g. {name.split('@')[0]}@{first.digest[:12]})")
    used = list(dict.fromkeys(chosen[op].digest for op in ops))
    by_digest = {p.digest: p for p in parts}
    records = [r for op in ops for r in chosen[op].records if r.op == op]
    identity = by_digest[used[0]].identity
    for d in used[1:]:
        identity = _merge(identity, by_digest[d].identity)
    head = by_digest[used[0]]
    return CodecResults(name, used, identity, head.spec, ds.name, ds.content_sha256, records, n)


def measured(store, text: str, ds: DatasetRef) -> CodecResults:
    """The measured results `text` names on `ds` (see the module docstring for the rules)."""
    from .specs import resolve_spec

    name, at, hint = text.partition("@")
    if at:
        if not HEX.match(hint) and not re.fullmatch(r"[0-9a-f]{4,64}", hint):
            raise LicBenchError(f"{text!r} is not a measured codec in the store (NAME@DIGEST names one by its spec digest): "
                                "shipped and published curves (NAME@paper, NAME@shipped, …) are used by bdrate, compare, "
                                "report, leaderboard and lic_bench.curves(dataset, codecs=[...]) "
                                "(`lic-bench references show NAME`, `lic-bench anchors list`)")
        rows = store.specs_by_digest_prefix(hint)
        if len(rows) != 1:
            raise LicBenchError(f"{text!r}: {'no' if not rows else len(rows)} stored spec digest(s) start with {hint!r}")
        part = _stored(store, rows[0]["digest"], ds)
        if not part.records:
            raise LicBenchError(f"no results for {text!r} on {ds.describe()}")
        return _combine(text, [part], ds)
    candidates: dict[str, _Stored] = {}
    warnings: list[str] = []
    try:
        spec = resolve_spec(name)
    except LicBenchError:
        spec = None
    wanted = _wanted_identity(spec) if spec is not None else None
    with_records = store.digests_with_records(METRIC_VERSION, ds.images)
    if wanted is not None:
        key = json.dumps(wanted[0], sort_keys=True, default=str)
        for d in sorted(with_records):
            row = store.spec(d)  # identity first: only the matching specs' records are read
            if row is not None and _identity_key(json.loads(row["identity"])) == key:
                candidates[d] = _stored(store, d, ds)
        facts = wanted[1]
        if facts:
            current = {d: p for d, p in candidates.items()
                       if all(p.identity.get("provenance", {}).get(k) == v for k, v in facts.items())}
            if current:
                candidates = current
            elif candidates:
                warnings.append(f"{name}: these results come from another version of the model's source code "
                                f"({', '.join(facts)} differs); rerun to measure the current code")
    for d in store.digests_named(name) if wanted is None else ():  # a name run under whose spec is not found from here
        if d in with_records and d not in candidates:
            part = _stored(store, d, ds)
            if part and part.records:
                candidates[d] = part
    candidates = {d: p for d, p in candidates.items() if p.records}
    if not candidates:
        known = [n for d in with_records for n in store.spec_names(d)]
        from .references import shipped_anchors

        if (name, ds.name) in shipped_anchors() or "@" in name:
            raise LicBenchError(f"{text!r} is not a measured codec in the store: shipped and published curves are used by "
                                "bdrate, compare, report and leaderboard (`lic-bench anchors list`, `references show NAME`)")
        raise LicBenchError(f"no results for codec {name!r} on dataset {ds.describe()} in {store.path}"
                            f"{did_you_mean(name, known)}; codecs with results there: {', '.join(sorted(set(known))) or 'none'}")
    cr = _combine(text, list(candidates.values()), ds)
    cr.warnings += warnings
    return cr


def measured_on(store, ds: DatasetRef) -> list[CodecResults]:
    """Every measured curve on `ds`: specs grouped by identity (aliases and per-quality checkpoints
    are one curve; results that differ only in versions or weights are listed as NAME@DIGEST)."""
    groups: dict[str, list[_Stored]] = {}
    for d in sorted(store.digests_with_records(METRIC_VERSION, ds.images)):
        part = _stored(store, d, ds)
        if part and part.records:
            groups.setdefault(_identity_key(part.identity), []).append(part)
    out = []
    for parts in groups.values():
        name = min((p.name for p in parts), key=lambda n: (len(n), n))
        try:
            out.append(_combine(name, parts, ds))
        except LicBenchError:
            out += [_combine(f"{p.name}@{p.digest[:12]}", [p], ds) for p in parts]
    return sorted(out, key=lambda c: c.name)


def codec_key(identity: dict) -> str:
    """Which codec a result is of (adapter, architecture, and whether its points are rate-matched
    targets) — what the gate pairs on."""
    return _codec_key(identity.get("adapter", ""), identity.get("params") or {}, target=identity.get("target"))


def _codec_key(adapter: str, params: dict, resolve: bool = False, target: dict | None = None) -> str:
    from .registry import adapter_class, adapter_ref

    try:
        cls = adapter_class(adapter)
        key = cls.codec_key(cls.identity_of(params) if resolve else params)
        ref = adapter_ref(adapter)
    except LicBenchError:
        key, ref = {}, adapter
    return json.dumps({"adapter": adapter, "class": ref, **key, "target": (target or {}).get("kind")}, sort_keys=True, default=str)


def codec_key_of_name(name: str) -> str | None:
    """codec_key of the spec `name` resolves to (None when it does not resolve here)."""
    from .specs import resolve_spec

    try:
        spec = resolve_spec(name)
    except LicBenchError:
        return None
    return _codec_key(spec.adapter, spec.params, resolve=True, target=spec.target)


# ---------------------------------------------------------------- curves of every kind

def resolve_curve(store, text: str, ds: DatasetRef | str, allow_tiled: bool = False):
    """A Curve for `text` on `ds`: NAME@paper, NAME@shipped, measured results, imported curves,
    shipped anchors — in that order; one did-you-mean over every kind of name."""
    from .references import Curve, measured_curve, reported_curves, shipped_anchors

    dataset = ds.name if isinstance(ds, DatasetRef) else ds
    reported, anchors = reported_curves(), shipped_anchors()
    if text.endswith("@shipped"):
        key = (text[: -len("@shipped")], dataset)
        if key not in anchors:
            raise LicBenchError(f"no shipped anchor {key[0]!r} for dataset {dataset!r}; shipped: "
                                f"{', '.join(sorted(n for n, d in anchors if d == dataset)) or 'none'}")
        return with_stored_metrics(store, anchors[key])
    if (text, dataset) in reported:
        return reported[(text, dataset)]
    if "@" in text and not HEX.match(text.rsplit("@", 1)[1]):
        return published_curve(text, dataset)
    measured_error = None
    if store is not None and isinstance(ds, DatasetRef):
        try:
            return measured_curve(measured(store, text, ds), allow_tiled)
        except LicBenchError as e:
            measured_error = e
            if "ambiguous" in str(e):
                raise
    if store is not None:
        row = store.curve(text, dataset)
        if row:
            return Curve(text, dataset, row["kind"], json.loads(row["provenance"]), points=json.loads(row["points"]))
    if (text, dataset) in anchors:
        return with_stored_metrics(store, anchors[(text, dataset)])
    known = {n for n, d in [*reported, *anchors] if d == dataset}
    if store is not None:
        known |= {r["name"] for r in store.curves_for(dataset)}
        if isinstance(ds, DatasetRef):
            known |= {c.name for c in measured_on(store, ds)}
    elsewhere = sorted({d for n, d in [*reported, *anchors] if n == text and d != dataset})
    if elsewhere:
        raise LicBenchError(f"{text!r} is a curve of {', '.join(elsewhere)}, not of {dataset!r}: curves of different images are "
                            f"never compared; run your codecs on {elsewhere[0]} (`--dataset {elsewhere[0]} --data-dir DIR`)")
    raise LicBenchError(f"no curve {text!r} for dataset {dataset!r}{did_you_mean(text, known)}; "
                        f"known: {', '.join(sorted(known)) or 'none'}" + (f" ({measured_error})" if measured_error and not known else ""))


def with_stored_metrics(store, curve):
    """A shipped anchor with the pixel metrics `metrics add` computed from its bitstreams (if any)."""
    from .api import anchor_metric_key
    from .measure import choose

    if store is None or curve.records is None:
        return curve
    rows = store.metric_rows(METRIC_VERSION, anchor_metric_key(curve.name))
    if rows:
        for r in curve.records:
            if (r.op, f"image:{r.image}") in rows:
                r.metrics, r.metric_ids = choose(rows[(r.op, f"image:{r.image}")])
    return curve


def published_curve(text: str, dataset: str):
    """A curve of the shipped library of published RD data (lic_bench.published) on `dataset`; a curve
    published on another dataset is refused, naming both (a BD-rate across datasets is meaningless)."""
    from . import published

    known = published.datasets()
    try:
        pc = published.lookup(text, dataset if dataset in known else None)
    except LicBenchError:
        elsewhere = sorted(c.dataset for c in published.library().values() if text == c.name or text in c.aliases)
        if elsewhere and dataset not in elsewhere:
            raise LicBenchError(f"{text!r} is published on {', '.join(elsewhere)}, not on {dataset!r}; "
                                "curves of different datasets are never compared") from None
        raise
    if pc.dataset != dataset:
        raise LicBenchError(f"{text!r} is published on {pc.dataset} ({known[pc.dataset]}), not on {dataset!r}; "
                            "curves of different datasets are never compared")
    return published.to_curve(pc)


def dataset_or_name(store, text: str, data_dir=None) -> DatasetRef | str:
    """A stored dataset when the store has results for `text`; else the name itself (curves of
    shipped or reported data need no store)."""
    if store is None:
        return text
    try:
        return resolve_dataset(store, text, data_dir)
    except LicBenchError as e:
        if "ambiguous" in str(e) or "changed" in str(e) or "other contents" in str(e):
            raise
        return text


def results_of(store, name: str, digests: list[str], ds: DatasetRef) -> CodecResults | None:
    """The results of exactly these spec digests (what a run just wrote), shown under `name`."""
    parts = [p for p in (_stored(store, d, ds) for d in digests) if p and p.records]
    return _combine(name, parts, ds) if parts else None
