"""The field's published RD curves, shipped as package data with their provenance and licences.

``lic_bench/builtin/published/`` holds verbatim data files from nine repositories whose licences
permit redistribution, each with its licence file, and ``MANIFEST.json`` (source commit, git blob sha,
licence, paper, BibTeX, datasets, metrics, provenance and the known defects of every file). This
module reads them through one importer per format (``formats``) into ``PublishedCurve``s:

* **Names**: ``<method>[-<target>]@<whose numbers>``: ``@paper`` for the method's authors' own numbers,
  ``@compressai-cuda`` / ``@compressai-cpu`` / ``@compressai-8bit`` / ``@compressai`` / ``@tfc`` /
  ``@lalic`` for numbers measured by that party, ``@digitized`` for values read off a plot. The same
  data under a second name (the manifest's duplicates, found by equal points) is one curve with an alias.
* **Datasets as published**: a curve's dataset is what its source states; a split the source does
  not state stays 'split-not-stated' and is never compared with a named split (``same_dataset``).
* **Units**: PSNR-RGB, PSNR-Y and PSNR of unstated colour space are distinct metrics; MS-SSIM is kept
  linear where published linear and in dB where published in dB, with the averaging convention.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources

from ..errors import LicBenchError, did_you_mean
from . import formats
from .formats import METRICS, FormatError, Refused

#: Dataset as the manifest labels it -> (lic-bench name, what the source states).
DATASETS = {
    "kodak": ("kodak", "Kodak, 24 images"),
    "tecnick": ("tecnick", "Tecnick as the source names it; the image count is not stated in the files"),
    # Cool-chic's docs link professional_valid_2020.zip; its file holds 41 images
    "clic20-pro-valid": ("clic2020-professional-valid", "CLIC 2020 professional validation, 41 images"),
    "clic-pro-valid": ("clic-pro-valid-edition-not-stated",
                       "CLIC professional validation; the CLIC edition (year) is not stated (MLIC 'clic_pro_val', LALIC 'clicproval')"),
    "clic2020-professional": ("clic2020-professional-split-not-stated",
                              "CLIC 2020 professional; CompressAI does not state the split (validation or test)"),
    "clic2020-mobile": ("clic2020-mobile-split-not-stated",
                        "CLIC 2020 mobile; CompressAI does not state the split (validation or test)"),
    "clic-pro (split as written: 'CLIC Pro')": ("clic-pro-split-not-stated",
                                                "CLIC professional, written 'CLIC Pro'; edition and split not stated"),
    "clic (split not stated in file)": ("clic-split-not-stated", "CLIC, written 'CLIC'; track, edition and split not stated"),
    "clic2020": ("clic2020-split-not-stated", "CLIC 2020, written 'clic2020'; track and split not stated"),
    "div2k": ("div2k-split-not-stated", "DIV2K, written 'div2k'; split not stated"),
    "jvet (JVET CTC classes A1/A2/B/C/E, YUV420)": ("jvet-ctc-yuv420",
                                                    "JVET common test conditions classes A1/A2/B/C/E, 18 images, YUV 4:2:0"),
}
DATASET_DESCRIPTIONS = dict(DATASETS.values())
PROVENANCE_KINDS = ("author-reported", "re-measured", "digitized", "unknown")


@dataclass(frozen=True)
class Source:
    """One shipped file: where it was published (repository at a commit) and its git blob sha."""

    repo: str
    commit: str
    path: str
    blob_sha: str
    licence: str
    licence_file: str
    local_path: str

    def __str__(self) -> str:
        return f"{self.repo}@{self.commit}:{self.path}"


@dataclass
class PublishedCurve:
    """A published RD curve on one dataset. ``points`` holds what the source published, in lic-bench's
    metric names (``formats.METRICS``), sorted by rate; ``rd`` derives what is unambiguous from it."""

    name: str
    dataset: str  # lic-bench name of the dataset as published (DATASETS)
    dataset_as_published: str  # the manifest's label
    method: str
    year: int | None
    paper_title: str
    bibtex: str
    provenance: str  # the manifest's full text: author-reported / re-measured by whom / digitized / unknown
    licence: str
    sources: tuple[Source, ...]
    points: dict[str, list[float]]
    records: list[dict] | None = None  # per-image records where published (Cool-chic)
    ms_ssim_db_convention: str | None = None  # set where the source published MS-SSIM in dB
    aliases: list[str] = field(default_factory=list)
    alias_sources: list[Source] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # the manifest's flags for this curve's files

    @property
    def key(self) -> str:
        """Unique in the library: ``<dataset>/<name>``."""
        return f"{self.dataset}/{self.name}"

    @property
    def provenance_kind(self) -> str:
        """One of PROVENANCE_KINDS."""
        return _provenance_kind(self.provenance)

    @property
    def provenance_short(self) -> str:
        """'author-reported', 're-measured by <whom>', 'digitized from a plot' or 'unknown'."""
        if self.provenance_kind == "re-measured":
            return re.split(r"[,;]", self.provenance)[0]
        return {"unknown": "unknown"}.get(self.provenance_kind, self.provenance)

    @property
    def source(self) -> str:
        return "; ".join(str(s) for s in self.sources)

    @property
    def metrics(self) -> list[str]:
        """Published quality metrics (keys of ``points`` other than bpp)."""
        return [m for m in self.points if m != "bpp"]

    @property
    def n_points(self) -> int:
        return len(self.points["bpp"])

    def provides(self, metric: str) -> bool:
        try:
            self.rd(metric)
        except LicBenchError:
            return False
        return True

    def rd(self, metric: str) -> tuple[list[float], list[float], list[str]]:
        """(bpp, quality, warnings) for `metric`. Derived only where unambiguous: 'psnr-rgb' from a
        PSNR of unstated colour space (warned), 'ms-ssim-db' as the dB of the published mean MS-SSIM
        (lic-bench's convention) or else the published dB column with its convention, and 'ms-ssim'
        from a dB column. PSNR-Y is never used as PSNR-RGB, nor the reverse."""
        if metric not in METRICS or metric == "bpp":
            raise LicBenchError(f"unknown metric {metric!r}{did_you_mean(metric, METRICS)}; choose one of "
                                f"{', '.join(m for m in METRICS if m != 'bpp')}")
        pts, warn = self.points, list(self.warnings)
        if metric == "ms-ssim-db" and "ms-ssim" in pts:
            quality = [formats.ms_ssim_db(x) for x in pts["ms-ssim"]]
            if "ms-ssim-db" in pts and self.ms_ssim_db_convention != formats.DB_OF_MEAN:
                warn.append(f"{self.key}: MS-SSIM dB taken of the published mean MS-SSIM; the source's own dB "
                            f"column ({self.ms_ssim_db_convention}) is not used")
        elif metric in pts:
            quality = list(pts[metric])
            if metric == "ms-ssim-db":
                warn.append(f"{self.key}: MS-SSIM dB as published ({self.ms_ssim_db_convention})")
        elif metric == "psnr-rgb" and "psnr" in pts:
            quality = list(pts["psnr"])
            warn.append(f"{self.key}: the source does not state the PSNR colour space; used as PSNR-RGB")
        elif metric == "ms-ssim" and "ms-ssim-db" in pts:
            quality = [formats.ms_ssim_linear(x) for x in pts["ms-ssim-db"]]
            warn.append(f"{self.key}: linear MS-SSIM converted from the published dB ({self.ms_ssim_db_convention})")
        else:
            raise LicBenchError(f"{self.key} has no {metric} values (published: {', '.join(self.metrics)})")
        return list(pts["bpp"]), quality, warn


# ------------------------------------------------------------------------------------------ naming

_CAI_CODECS = {"vtm": "vtm", "hm": "hm", "av1": "av1", "jpeg": "jpeg", "jpeg2000": "jpeg2000", "webp": "webp",
               "bpg_444_x265_ycbcr": "bpg444-x265-ycbcr"}


def _target(token: str) -> str:
    return {"mse": "mse", "ms-ssim": "msssim", "msssim": "msssim"}[token]


def _curve_name(entry: dict, provenance_kind: str) -> str:
    """The stable name of a manifest entry's curve (see the module docstring for the scheme)."""
    repo, stem = entry["source_repo"], entry["path"].rsplit("/", 1)[-1].rsplit(".", 1)[0].strip()
    if repo == "tensorflow/compression":
        return stem.replace("-opt-", "-") + ("@paper" if provenance_kind == "author-reported" else "@tfc")
    if repo == "InterDigitalInc/CompressAI":
        m = re.fullmatch(r"compressai-(.+?)_(mse|ms-ssim)_(ans_cuda|cuda|cpu)", stem)
        if m:
            where = "8bit" if entry.get("variant") == "8bit-decoded" else m.group(3)
            return f"{m.group(1)}-{_target(m.group(2))}@compressai-{where}"
        if stem.startswith("paper-") and provenance_kind == "digitized":
            model, target = stem[len("paper-"):].rsplit("_", 1)
            return f"{model.lower()}-{_target(target)}@digitized"
        if stem.startswith("paper-"):
            return stem[len("paper-"):] + "@paper"
        if stem.endswith("-vbr-ans"):
            return stem[: -len("-ans")] + "-mse@compressai"
        return _CAI_CODECS[stem] + "@compressai"
    if repo == "jmliu206/LIC_TCM":
        return {"TCM-Large": "tcm-large", "TCM-Middle": "tcm-medium", "TCM-Small": "tcm-small"}[entry["method"].split()[0]] + "@paper"
    if repo == "JiangWeibeta/MLIC":
        return {"mlic_mse": "mlic", "mlicplus_mse": "mlic+", "mlicplusplus_mse": "mlic++"}[stem] + "@paper"
    if repo == "Googolxx/STF":
        model = "stf" if stem.startswith("stf") else "wacnn"
        return f"{model}-{'msssim' if 'ms-ssim' in stem else 'mse'}@paper"
    if repo == "sjtu-medialab/RwkvCompress":
        if "vtm91-compressai" in stem:
            return "vtm-9.1-compressai@lalic"
        if "vtm91" in stem:
            return "vtm-9.1@lalic"
        return ("lalic-msssim" if "msssim" in stem else "lalic-mse") + "@paper"
    if repo == "LabShuHangGU/CCA":
        return "cca@paper"
    if repo == "facebookresearch/NeuralCompression":
        return {"MS-ILLM": "ms-illm", "No-GAN": "ms-illm-no-gan"}[entry["method"]] + "@paper"
    if repo == "Orange-OpenSource/Cool-Chic":
        return "cool-chic-5.0@paper"
    raise FormatError(f"no naming rule for repository {repo}")


# ------------------------------------------------------------------------------------------ building

def _root():
    return resources.files("lic_bench") / "builtin" / "published"


def manifest() -> list[dict]:
    """The shipped MANIFEST.json, one entry per data file (or per method of a multi-method file)."""
    return json.loads((_root() / "MANIFEST.json").read_text(encoding="utf-8"))


def _provenance_kind(text: str) -> str:
    kind = next((k for k in PROVENANCE_KINDS if text.startswith(k)), None)
    if kind is None:
        raise FormatError(f"unknown provenance {text!r}")
    return kind


def _paper_facts(paper) -> tuple[str, int | None]:
    """Title of the method's paper; year of the method, else of the paper that published the numbers."""
    papers = paper if isinstance(paper, list) else [paper]
    year = next((int(p["year"]) for p in papers if p.get("year")), None)
    return papers[0]["title"], year


def _provenance_warning(kind: str, text: str) -> str | None:
    if kind == "digitized":
        return "digitized from a paper's plot: approximate values, not the authors' data"
    if kind == "re-measured":
        return f"{re.split(r'[,;]', text)[0]}: not the method authors' own numbers"
    if kind == "unknown":
        return "provenance unknown: the original source of these numbers is not stated"
    return None


@dataclass
class _Library:
    curves: dict[str, PublishedCurve]
    refused: dict[str, str]


@functools.lru_cache(maxsize=1)
def _build() -> _Library:
    curves: dict[str, PublishedCurve] = {}
    refused: dict[str, str] = {}
    root = _root()
    for entry in manifest():
        kind = _provenance_kind(entry["provenance"])
        name = _curve_name(entry, kind)
        src = Source(entry["source_repo"], entry["commit"], entry["path"], entry["blob_sha"], entry["licence"],
                     entry["licence_file"], entry["local_path"])
        text = _read(root, entry["local_path"])
        try:
            parts = formats.IMPORTERS[entry["source_repo"]](text, entry)
        except Refused as why:
            for label in entry["datasets"]:
                refused[f"{DATASETS[label][0]}/{name}"] = f"{src}: {why}"
            continue
        title, year = _paper_facts(entry["paper"])
        for part in parts:
            dataset = DATASETS[part.dataset_label][0]
            key = f"{dataset}/{name}"
            if key in curves:  # tensorflow/compression: one file per metric of the same curve
                _merge(curves[key], part, src, entry, key)
                continue
            warnings = [w for w in [_provenance_warning(kind, entry["provenance"])] if w]
            warnings += [f"manifest: {f[len('sanity: '):]}" for f in entry["flags"] if f.startswith("sanity:")]
            if part.ms_ssim_db_convention and part.ms_ssim_db_convention.startswith("inconsistent"):
                warnings.append(f"MS-SSIM dB column {part.ms_ssim_db_convention}")
            curves[key] = PublishedCurve(
                name=name, dataset=dataset, dataset_as_published=part.dataset_label, method=_method(entry),
                year=year, paper_title=title, bibtex=entry["bibtex"], provenance=entry["provenance"],
                licence=entry["licence"], sources=(src,), points=part.points, records=part.records,
                ms_ssim_db_convention=part.ms_ssim_db_convention, notes=[entry["notes"], *part.notes],
                warnings=warnings, flags=list(entry["flags"]))
    _alias_duplicates(curves)
    for key, why in refused.items():
        sibling = key.replace("-msssim@", "-mse@")
        if sibling in curves:
            refused[key] = f"{why} (use {sibling.split('/', 1)[1]!r}, the curve it actually holds)"
    return _Library(curves, refused)


def _read(root, local_path: str) -> str:
    node = root
    for part in local_path.split("/"):
        node = node / part
    return node.read_text(encoding="utf-8")


def _method(entry: dict) -> str:
    return re.sub(r"\s*\[[^\]]*\]$", "", entry["method"])


def _merge(curve: PublishedCurve, part, src: Source, entry: dict, key: str) -> None:
    """Add another metric file of the same curve (same rates, same provenance) to it."""
    if part.points["bpp"] != curve.points["bpp"] or entry["provenance"] != curve.provenance:
        raise FormatError(f"{src}: rates or provenance differ from the other files of {key}")
    overlap = set(part.points) & set(curve.points) - {"bpp"}
    if overlap:
        raise FormatError(f"{src}: {key} already has {sorted(overlap)}")
    curve.points.update(part.points)
    curve.sources += (src,)
    curve.flags += [f for f in entry["flags"] if f not in curve.flags]
    curve.warnings += [f"manifest: {f[len('sanity: '):]}" for f in entry["flags"] if f.startswith("sanity:")]


def _pairs(curve: PublishedCurve) -> set[tuple]:
    return {tuple(zip(curve.points["bpp"], curve.points[m])) for m in curve.metrics}


def _alias_duplicates(curves: dict[str, PublishedCurve]) -> None:
    """Curves on the same dataset whose points are equal (same rates, and every quality list of one
    also in the other, whatever its key) are one curve. The one the manifest does not flag as a copy,
    then the one with more metrics, keeps its name; the other's name becomes an alias, its file a source."""
    by_rates: dict[tuple, list[str]] = {}
    for key, c in curves.items():
        by_rates.setdefault((c.dataset, tuple(c.points["bpp"])), []).append(key)
    for keys in by_rates.values():
        kept: list[PublishedCurve] = []
        for key in sorted(keys, key=lambda k: (_is_flagged_copy(curves[k]), -len(curves[k].metrics), k)):
            copy = curves[key]
            primary = next((p for p in kept if _pairs(copy) <= _pairs(p)), None)
            if primary is None:
                kept.append(copy)
                continue
            primary.aliases += [copy.name, *copy.aliases]
            primary.alias_sources += [*copy.sources, *copy.alias_sources]
            primary.notes.append(f"the same points are published as {copy.name!r} ({copy.provenance_short}) in {copy.source}")
            del curves[key]


def _is_flagged_copy(curve: PublishedCurve) -> bool:
    return any(f.startswith(("DUPLICATE", "PROVENANCE:")) for f in curve.flags)


# ------------------------------------------------------------------------------------------ the API

def library() -> dict[str, PublishedCurve]:
    """Every shipped curve, keyed by ``<dataset>/<name>`` (cached; treat the curves as read-only)."""
    return _build().curves


def refused() -> dict[str, str]:
    """``<dataset>/<name>`` -> why a manifest file is not shipped as a curve (flagged unusable)."""
    return dict(_build().refused)


def datasets() -> dict[str, str]:
    """Dataset name -> what its sources state about it."""
    return dict(DATASET_DESCRIPTIONS)


def lookup(name: str, dataset: str | None = None) -> PublishedCurve:
    """The curve called `name` (or one of its aliases) on `dataset`; `name` may be a key
    ``<dataset>/<name>``, and `dataset` may be left out where the name is published for one dataset."""
    lib = _build()
    if dataset is None and "/" in name:
        dataset, name = name.split("/", 1)
    if dataset is not None and dataset not in DATASET_DESCRIPTIONS:
        raise LicBenchError(f"no published curves for dataset {dataset!r}{did_you_mean(dataset, DATASET_DESCRIPTIONS)}; "
                            f"published datasets: {', '.join(sorted(DATASET_DESCRIPTIONS))}")
    hits = [c for c in lib.curves.values() if (name == c.name or name in c.aliases) and dataset in (None, c.dataset)]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise LicBenchError(f"{name!r} is published for several datasets ({', '.join(sorted(c.dataset for c in hits))}); "
                            f"name one, e.g. '{hits[0].key}'")
    for key, why in lib.refused.items():
        if key.split("/", 1)[1] == name and dataset in (None, key.split("/", 1)[0]):
            raise LicBenchError(f"published curve {name!r} is not shipped: {why}")
    known = {n for c in lib.curves.values() if dataset in (None, c.dataset) for n in (c.name, *c.aliases)}
    where = f" for dataset {dataset!r}" if dataset else ""
    raise LicBenchError(f"no published curve {name!r}{where}{did_you_mean(name, known)}; "
                        f"'references list' shows the {len(known)} names")


def curves_for(dataset: str | None = None, metric: str | None = None, provenance: str | None = None) -> list[PublishedCurve]:
    """Curves on `dataset` that can give `metric` (see ``PublishedCurve.rd``) and whose provenance is of
    kind `provenance` (author-reported, re-measured, digitized, unknown) or mentions it (e.g. 'compressai')."""
    if dataset is not None and dataset not in DATASET_DESCRIPTIONS:
        raise LicBenchError(f"no published curves for dataset {dataset!r}{did_you_mean(dataset, DATASET_DESCRIPTIONS)}; "
                            f"published datasets: {', '.join(sorted(DATASET_DESCRIPTIONS))}")
    if metric is not None and (metric not in METRICS or metric == "bpp"):
        raise LicBenchError(f"unknown metric {metric!r}{did_you_mean(metric, METRICS)}; choose one of "
                            f"{', '.join(m for m in METRICS if m != 'bpp')}")
    out = []
    for c in library().values():
        if dataset is not None and c.dataset != dataset:
            continue
        if metric is not None and not c.provides(metric):
            continue
        if provenance is not None and not (c.provenance_kind == provenance or provenance.lower() in c.provenance.lower()):
            continue
        out.append(c)
    return sorted(out, key=lambda c: (c.dataset, c.name))


def _curves_named(names) -> list[PublishedCurve]:
    out = []
    for n in names:
        if "/" in n:
            out.append(lookup(n))
            continue
        hits = [c for c in library().values() if n == c.name or n in c.aliases]
        if not hits:
            lookup(n)  # raises with did-you-mean
        out += hits
    return out


def bibtex(names) -> str:
    """BibTeX for every curve named (names, aliases or keys), each entry once."""
    seen, entries = set(), []
    for c in _curves_named(names):
        for entry in re.split(r"\n(?=@)", c.bibtex.strip()):
            cite_key = entry.split("{", 1)[1].split(",", 1)[0].strip()
            if cite_key not in seen:
                seen.add(cite_key)
                entries.append(entry.strip())
    return "\n\n".join(entries) + ("\n" if entries else "")


def same_dataset(a, b) -> bool:
    """Whether two curves (PublishedCurve, or a dataset name for measured and anchor curves) are on
    the same images: the same dataset name, and — where the source does not state the split or
    edition — the same source repository (one author's 'CLIC' need not be another's)."""
    da, db = _dataset_of(a), _dataset_of(b)
    if da != db:
        return False
    if not _unstated(da):
        return True
    return (isinstance(a, PublishedCurve) and isinstance(b, PublishedCurve)
            and {s.repo for s in a.sources} == {s.repo for s in b.sources})


def check_same_dataset(a, b) -> None:
    """Raise LicBenchError naming both datasets when a BD-rate between `a` and `b` would compare
    different (or possibly different) image sets."""
    if same_dataset(a, b):
        return
    if _dataset_of(a) == _dataset_of(b):
        raise LicBenchError(f"BD-rate refused: {_describe(a)} and {_label(b)} come from different sources, and an "
                            "unstated split may be a different image set")
    raise LicBenchError(f"BD-rate refused: {_describe(a)}, {_describe(b)}; compare curves of the same dataset")


def _label(x) -> str:
    return x.key if isinstance(x, PublishedCurve) else "the other curve"


def _describe(x) -> str:
    d = _dataset_of(x)
    what = DATASET_DESCRIPTIONS.get(d, "lic-bench dataset")
    return f"{x.key} is on {d!r} ({what})" if isinstance(x, PublishedCurve) else f"the other curve is on {d!r} ({what})"


def _dataset_of(x) -> str:
    return x.dataset if isinstance(x, PublishedCurve) else str(x)


def _unstated(dataset: str) -> bool:
    return dataset.endswith("-not-stated")


def list_rows(dataset: str | None = None, metric: str | None = None, provenance: str | None = None) -> list[dict]:
    """One row per curve for ``references list``: name, dataset, method, year, points, metrics,
    provenance, licence, aliases."""
    return [{"name": c.name, "dataset": c.dataset, "method": c.method, "year": c.year, "points": c.n_points,
             "metrics": ", ".join(c.metrics), "provenance": c.provenance_short, "licence": c.licence,
             "per_image": c.records is not None, "aliases": ", ".join(c.aliases)}
            for c in curves_for(dataset, metric, provenance)]


def show(name: str, dataset: str | None = None) -> dict:
    """Everything about one curve for ``references show``: points, sources (repo@commit:path and blob
    sha), licence, paper, provenance, conventions, notes and warnings."""
    c = lookup(name, dataset)
    return {
        "name": c.name, "key": c.key, "aliases": list(c.aliases), "method": c.method, "year": c.year,
        "paper": c.paper_title, "dataset": c.dataset, "dataset_description": DATASET_DESCRIPTIONS[c.dataset],
        "dataset_as_published": c.dataset_as_published, "provenance": c.provenance, "licence": c.licence,
        "sources": [{"source": str(s), "blob_sha": s.blob_sha, "licence_file": s.licence_file} for s in c.sources],
        "alias_sources": [{"source": str(s), "blob_sha": s.blob_sha} for s in c.alias_sources],
        "points": {k: list(v) for k, v in c.points.items()},
        "metric_descriptions": {k: METRICS[k] for k in c.points},
        "ms_ssim_db_convention": c.ms_ssim_db_convention,
        "per_image_records": len(c.records) if c.records is not None else 0,
        "notes": list(c.notes), "warnings": list(c.warnings), "bibtex": c.bibtex,
    }


def to_curve(curve: PublishedCurve):
    """The curve as a ``references.Curve`` of kind 'published': aggregated points in lic-bench's metric
    names (whatever ``rd`` can derive without guessing), provenance, licence, source and citation."""
    from ..references import Curve

    points, warnings = {"bpp": list(curve.points["bpp"])}, list(curve.warnings)
    for metric in ("psnr-rgb", "psnr-y", "ms-ssim", "ms-ssim-db"):
        if curve.provides(metric):
            rates, q, w = curve.rd(metric)
            if list(rates) != points["bpp"]:  # published at its own rates (e.g. a separate MS-SSIM file)
                points[f"bpp:{metric}"] = list(rates)
            points[metric] = list(q)
            notes = [x for x in w if x not in warnings]  # what this metric's values rest on, shown with its BD-rates
            if notes:
                points[f"notes:{metric}"] = notes
    prov = {"provenance": curve.provenance_short, "provenance_kind": curve.provenance_kind,
            "source": "; ".join(f"{s.repo}@{s.commit}:{s.path}" for s in curve.sources) if curve.sources else "",
            "licence": curve.licence, "dataset_as_published": curve.dataset_as_published,
            "citation": f"{curve.paper_title} ({curve.year})" if curve.year else curve.paper_title}
    return Curve(curve.name, curve.dataset, "published", prov, points=points, warnings=warnings)


__all__ = ["PublishedCurve", "Source", "METRICS", "DATASETS", "library", "refused", "datasets", "lookup",
           "curves_for", "bibtex", "same_dataset", "check_same_dataset", "list_rows", "show", "to_curve", "manifest"]
