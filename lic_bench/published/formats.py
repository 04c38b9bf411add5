"""One importer per published file format: text in, metric lists in lic-bench's units out. Pure.

Every importer returns ``Part``s keyed by the metric names of ``METRICS``: a quality is filed under
the name that says what the source states — ``psnr-rgb`` and ``psnr-y`` only where the file says
which, ``psnr`` where it does not; MS-SSIM linear under ``ms-ssim``, in dB under ``ms-ssim-db`` with
the averaging convention the file used. The defects the manifest flags are handled here, by name:
a key that holds another metric is re-filed with a note, a mislabelled file is refused (``Refused``).
Anything a format does not explain (an unknown key, a header that contradicts its folder, values out
of range for their unit) raises ``FormatError`` instead of being guessed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field

METRICS = {
    "bpp": "bits per pixel",
    "psnr-rgb": "PSNR over R, G and B (dB)",
    "psnr-y": "PSNR of luma Y' (dB)",
    "psnr": "PSNR, colour space not stated by the source (dB)",
    "psnr-yuv420": "PSNR of Y, U, V 4:2:0, channels weighted by their sample count (dB)",
    "ms-ssim": "MS-SSIM, linear (0..1)",
    "ms-ssim-y": "MS-SSIM of luma Y', linear (0..1)",
    "ms-ssim-db": "MS-SSIM in dB, -10*log10(1 - MS-SSIM), as published (see the curve's convention)",
    "lpips": "LPIPS (lower is better)",
    "dists": "DISTS (lower is better)",
    "fid": "FID over the dataset (lower is better)",
    "fid-swav": "FID with SwAV features (lower is better)",
    "kid": "KID over the dataset (lower is better)",
}
#: Plausible ranges: a value outside means a wrong key or unit (e.g. MS-SSIM dB under 'psnr').
RANGES = {"bpp": (0.0, 30.0), "psnr-rgb": (15.0, 80.0), "psnr-y": (15.0, 80.0), "psnr": (15.0, 80.0),
          "psnr-yuv420": (15.0, 80.0), "ms-ssim": (0.0, 1.0), "ms-ssim-y": (0.0, 1.0), "ms-ssim-db": (1.0, 50.0)}

DB_OF_MEAN = "dB of the mean MS-SSIM"
MEAN_OF_DB = "mean of per-image dB (inferred: above the dB of the mean linear value, as Jensen's inequality requires)"
NOT_STATED = "not stated by the source"


class FormatError(ValueError):
    """A file that does not read as its format says (a bug in the data or in its manifest entry)."""


class Refused(Exception):
    """A file the manifest flags as unusable; the message says why and what to use instead."""


@dataclass
class Part:
    """The points one file gives for one method on one dataset (dataset as the manifest labels it)."""

    dataset_label: str
    points: dict[str, list[float]]
    records: list[dict] | None = None
    ms_ssim_db_convention: str | None = None
    notes: list[str] = field(default_factory=list)


def ms_ssim_db(x: float) -> float:
    return -10.0 * math.log10(1.0 - x)


def ms_ssim_linear(db: float) -> float:
    return 1.0 - 10.0 ** (-db / 10.0)


def flagged(entry: dict, prefix: str) -> str | None:
    """The manifest flag of `entry` starting with `prefix`, if any."""
    return next((f for f in entry.get("flags") or [] if f.startswith(prefix)), None)


# ------------------------------------------------------------------------------------------- formats

_TFC_COLUMN = {"PSNR/sRGB/R'G'B'": "psnr-rgb", "PSNR/sRGB/Y'": "psnr-y",
               "MS-SSIM/sRGB/R'G'B'": "ms-ssim", "MS-SSIM/sRGB/Y'": "ms-ssim-y"}
_TFC_FOLDER = {"PSNR_sRGB_RGB": "psnr-rgb", "PSNR_sRGB_Y": "psnr-y", "MS-SSIM_sRGB_RGB": "ms-ssim", "MS-SSIM_sRGB_Y": "ms-ssim-y"}


def tfc_txt(text: str, entry: dict) -> list[Part]:
    """tensorflow/compression ``results/image_compression/<dataset>/<metric folder>/<method>.txt``:
    a '#' header that names the second column, then 'bpp, value' lines (MS-SSIM linear)."""
    said = re.search(r"second column contains (\S+) values", text)
    if not said or said.group(1) not in _TFC_COLUMN:
        raise FormatError(f"{entry['path']}: header does not name a known second column")
    metric = _TFC_COLUMN[said.group(1)]
    folder = entry["path"].split("/")[-2]
    if _TFC_FOLDER.get(folder) != metric:
        raise FormatError(f"{entry['path']}: header says {said.group(1)} but the folder is {folder}")
    rates, values = [], []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        r, v = (float(x) for x in line.split(","))
        rates.append(r)
        values.append(v)
    (label,) = entry["datasets"]
    return [Part(label, _checked({"bpp": rates, metric: values}, entry["path"]),
                 notes=["averaged over images at a constant lambda/quality (TFC header); whether PSNR or MSE "
                        "was averaged is not stated"])]


_RESULTS_KEYS = {"bpp": "bpp", "psnr-rgb": "psnr-rgb", "psnr": "psnr", "ms-ssim-rgb": "ms-ssim", "ms-ssim": "ms-ssim",
                 "ms-ssim-db-rgb": "ms-ssim-db", "ms-ssim-db": "ms-ssim-db"}
_TIMING_KEYS = {"encoding_time", "decoding_time"}


def results_json(text: str, entry: dict) -> list[Part]:
    """CompressAI's ``{"name", "description", ["meta"], "results": {metric: [...]}}`` (also the layout of
    LALIC's files, which use 'psnr' without a colour space). Timings are not RD data and are left out."""
    mislabel = flagged(entry, "SUSPECT/MISLABELLED")
    if mislabel:
        raise Refused(mislabel)
    doc = json.loads(text)
    results = doc["results"]
    unknown = set(results) - set(_RESULTS_KEYS) - _TIMING_KEYS
    if unknown:
        raise FormatError(f"{entry['path']}: unknown result keys {sorted(unknown)}")
    points = {_RESULTS_KEYS[k]: [float(x) for x in v] for k, v in results.items() if k in _RESULTS_KEYS}
    notes = []
    convention = None
    if "ms-ssim-db" in points:
        if "ms-ssim" in points:
            convention = _db_convention(points["ms-ssim"], points["ms-ssim-db"])
        elif (doc.get("meta") or {}).get("source") == "paper":
            convention = "not stated (values read off a paper's plot)"
        else:
            convention = NOT_STATED
    if set(results) & _TIMING_KEYS:
        notes.append("encoding/decoding times in the file are not imported (hardware-specific)")
    (label,) = entry["datasets"]
    return [Part(label, _checked(points, entry["path"]), ms_ssim_db_convention=convention, notes=notes)]


def flat_json(text: str, entry: dict) -> list[Part]:
    """MLIC and STF: ``{"psnr" | "ms-ssim": [...], "bpp": [...]}``. PSNR colour space is not stated;
    STF's 'ms-ssim' key holds dB (its README and the manifest), and the one STF file that files MS-SSIM
    dB under 'psnr' is re-filed as the manifest's KEY MISLABEL flag says."""
    doc = json.loads(text)
    unknown = set(doc) - {"bpp", "psnr", "ms-ssim"}
    if unknown:
        raise FormatError(f"{entry['path']}: unknown keys {sorted(unknown)}")
    notes, convention = [], None
    points = {"bpp": [float(x) for x in doc["bpp"]]}
    mislabel = flagged(entry, "KEY MISLABEL")
    if "psnr" in doc and mislabel:
        points["ms-ssim-db"] = [float(x) for x in doc["psnr"]]
        notes.append(f"the file's key 'psnr' holds MS-SSIM in dB; imported as ms-ssim-db (manifest flag: {mislabel})")
    elif "psnr" in doc:
        if "ms-ssim" in entry["path"].lower():
            raise FormatError(f"{entry['path']}: an MS-SSIM file with a 'psnr' key and no manifest flag explaining it")
        points["psnr"] = [float(x) for x in doc["psnr"]]
    if "ms-ssim" in doc:
        if "ms-ssim-db" not in " ".join(entry["metrics"]):
            raise FormatError(f"{entry['path']}: 'ms-ssim' key whose unit the manifest does not state")
        points["ms-ssim-db"] = [float(x) for x in doc["ms-ssim"]]
    if "ms-ssim-db" in points:
        convention = NOT_STATED
    (label,) = entry["datasets"]
    return [Part(label, _checked(points, entry["path"]), ms_ssim_db_convention=convention, notes=notes)]


def per_dataset_json(text: str, entry: dict) -> list[Part]:
    """CCA's ``{"Kodak": {"bpp": [...], "PSNR": [...]}, "CLIC": ..., ...}`` (listed high to low rate)."""
    parts = []
    for written, block in json.loads(text).items():
        unknown = set(block) - {"bpp", "PSNR"}
        if unknown:
            raise FormatError(f"{entry['path']}: unknown keys {sorted(unknown)} under {written!r}")
        points = {"bpp": [float(x) for x in block["bpp"]], "psnr": [float(x) for x in block["PSNR"]]}
        parts.append(Part(match_label(written, entry), _checked(points, f"{entry['path']}:{written}")))
    return parts


_TCM_SECTIONS = {"Large": "TCM-Large", "Middle": "TCM-Middle", "Small": "TCM-Small"}


def tcm_markdown(text: str, entry: dict) -> list[Part]:
    """LIC_TCM ``RD_data.md``: '# <model>' / '## <dataset>' headings over 'PSNR = [...]' and
    'Bitrate = [...]' lines; returns the parts of the model the manifest entry names."""
    want = entry["method"].split()[0]
    parts, model, written, lists = [], None, None, {}

    def close():
        if model is not None and written is not None and _TCM_SECTIONS.get(model) == want:
            if set(lists) != {"PSNR", "Bitrate"}:
                raise FormatError(f"{entry['path']}: {model}/{written} lacks PSNR or Bitrate")
            parts.append(Part(match_label(written, entry), _checked({"bpp": lists["Bitrate"], "psnr": lists["PSNR"]},
                                                                    f"{entry['path']}:{model}/{written}")))

    for line in text.splitlines():
        line = line.strip()
        if line.startswith("## "):
            close()
            written, lists = line[3:].strip(), {}
        elif line.startswith("# "):
            close()
            model, written, lists = line[2:].strip(), None, {}
        elif "=" in line:
            key, _, values = line.partition("=")
            lists[key.strip()] = [float(x) for x in values.strip().strip("[]").split(",")]
    close()
    if not parts:
        raise FormatError(f"{entry['path']}: no section for {want}")
    return parts


def coolchic_tsv(text: str, entry: dict) -> list[Part]:
    """Cool-chic ``results/v5.0/image-<dataset>.tsv``: one row per (image, lambda) with
    lmbda, seq_name, n_pixels, loss, psnr_db, rate_bpp. Kodak and CLIC are coded in RGB, JVET in
    YUV 4:2:0 with the PSNR of the resolution-weighted MSE (Cool-chic docs), so the PSNR key follows
    the dataset. Points are per-lambda means over images of per-image bpp and PSNR."""
    (label,) = entry["datasets"]
    metric = "psnr-yuv420" if "YUV420" in label else "psnr-rgb"
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    if not rows or set(rows[0]) != {"lmbda", "seq_name", "n_pixels", "loss", "psnr_db", "rate_bpp"}:
        raise FormatError(f"{entry['path']}: unexpected columns {sorted(rows[0]) if rows else 'none'}")
    records = [{"image": r["seq_name"], "lambda": float(r["lmbda"]), "n_pixels": int(r["n_pixels"]),
                "bpp": float(r["rate_bpp"]), metric: float(r["psnr_db"]), "loss": float(r["loss"])} for r in rows]
    by_lambda: dict[float, list[dict]] = {}
    for r in records:
        by_lambda.setdefault(r["lambda"], []).append(r)
    counts = {len(v) for v in by_lambda.values()}
    if len(counts) != 1:
        raise FormatError(f"{entry['path']}: lambdas cover different numbers of images {sorted(counts)}")
    lambdas = sorted(by_lambda, key=lambda lm: -lm)  # larger lambda = lower rate
    points = {"bpp": [sum(r["bpp"] for r in by_lambda[lm]) / len(by_lambda[lm]) for lm in lambdas],
              metric: [sum(r[metric] for r in by_lambda[lm]) / len(by_lambda[lm]) for lm in lambdas]}
    note = ("points are means over images of per-image bpp and PSNR at each lambda (lic-bench's 'mean'); "
            "Cool-chic's own dataset figures aggregate differently (Cool-Chic issue #13); the per-image records are shipped")
    return [Part(label, _checked(points, entry["path"]), records=records, notes=[note])]


_CSV_COLUMNS = {"bpp": "bpp", "psnr": "psnr", "ms_ssim": "ms-ssim", "lpips": "lpips", "dists": "dists",
                "fid": "fid", "fid_swav": "fid-swav", "kid": "kid"}


def illm_csv(text: str, entry: dict) -> list[Part]:
    """NeuralCompression ``projects/illm/results.csv``: model,dataset,bpp,fid,fid_swav,kid,lpips,dists,
    ms_ssim,psnr (MS-SSIM linear, PSNR colour space not stated); the rows of the entry's model, per
    dataset. Empty cells (FID/KID on Kodak: too few images) leave that metric out for the dataset."""
    rows = [r for r in csv.DictReader(io.StringIO(text)) if r["model"] == entry["method"]]
    if not rows:
        raise FormatError(f"{entry['path']}: no rows for model {entry['method']!r}")
    by_ds: dict[str, list[dict]] = {}
    for r in rows:
        by_ds.setdefault(r["dataset"], []).append(r)
    parts = []
    for written, rs in by_ds.items():
        points = {}
        for col, metric in _CSV_COLUMNS.items():
            cells = [r[col] for r in rs]
            if all(c.strip() for c in cells):
                points[metric] = [float(c) for c in cells]
            elif any(c.strip() for c in cells):
                raise FormatError(f"{entry['path']}: column {col} partly empty for {written}")
        parts.append(Part(match_label(written, entry), _checked(points, f"{entry['path']}:{written}")))
    return parts


# ------------------------------------------------------------------------------------------- helpers

def match_label(written: str, entry: dict) -> str:
    """The manifest dataset label that a heading/key inside a file stands for ('CLIC Pro' ->
    "clic-pro (split as written: 'CLIC Pro')"); exactly one must match."""
    w = written.strip().lower()
    hits = [lab for lab in entry["datasets"]
            if lab.lower() == w or f"'{written}'" in lab or lab.lower().split(" ")[0] == w]
    if len(hits) != 1:
        raise FormatError(f"{entry['path']}: dataset heading {written!r} matches {hits or 'no'} manifest dataset(s)")
    return hits[0]


def _db_convention(linear: list[float], db: list[float]) -> str:
    """Which averaging a file's dB column used, judged against its linear column (both means over
    images). dB of the mean reproduces the column; a mean of per-image dB is never below it (the dB
    map is convex); a column below it fits neither and is reported as such."""
    diffs = [d - ms_ssim_db(x) for x, d in zip(linear, db)]
    if all(abs(x) < 5e-4 for x in diffs):
        return DB_OF_MEAN
    if all(x > 0 for x in diffs):
        return MEAN_OF_DB
    return (f"inconsistent: the dB column is {min(diffs):+.2f} to {max(diffs):+.2f} dB from the dB of the linear "
            "column, below it, which neither a dB of the mean nor a mean of per-image dB can be")


def _checked(points: dict[str, list[float]], where: str) -> dict[str, list[float]]:
    """Points sorted by rate, every list the same length, every value finite and in range for its unit."""
    n = {len(v) for v in points.values()}
    if len(n) != 1 or "bpp" not in points:
        raise FormatError(f"{where}: lists of different lengths or no bpp ({ {k: len(v) for k, v in points.items()} })")
    for metric, values in points.items():
        lo, hi = RANGES.get(metric, (-math.inf, math.inf))
        bad = [v for v in values if not (math.isfinite(v) and lo <= v <= hi)]
        if bad:
            raise FormatError(f"{where}: {metric} value {bad[0]} is outside {lo}..{hi} (wrong key or unit?)")
    order = sorted(range(len(points["bpp"])), key=lambda i: points["bpp"][i])
    return {k: [v[i] for i in order] for k, v in points.items()}


#: Which importer reads each repository's files.
IMPORTERS = {
    "tensorflow/compression": tfc_txt,
    "InterDigitalInc/CompressAI": results_json,
    "sjtu-medialab/RwkvCompress": results_json,
    "JiangWeibeta/MLIC": flat_json,
    "Googolxx/STF": flat_json,
    "LabShuHangGU/CCA": per_dataset_json,
    "jmliu206/LIC_TCM": tcm_markdown,
    "Orange-OpenSource/Cool-Chic": coolchic_tsv,
    "facebookresearch/NeuralCompression": illm_csv,
}
