"""BD-rate of curves (any source) against an anchor, as self-describing rows."""

from __future__ import annotations

import math

from .bd import bd_quality, bd_rate
from .aggregate import AGGREGATION_LABELS
from .errors import LicBenchError
from .references import KINDS, Curve

BD_AGGREGATIONS = ("mean", "pooled", "per-image")
PER_IMAGE_LABEL = "mean of per-image BD-rates (JPEG AI); per-image curves"


def compare(anchor: Curve, test: Curve, metric: str = "psnr-rgb", method: str = "pchip",
            aggregation: str = "mean") -> dict:
    """One row: BD-rate (%) and BD-quality (dB) of `test` vs `anchor`, or why not computable."""
    row = {
        "codec": test.name, "label": test.label, "test_kind": test.kind, "anchor": anchor.name, "anchor_kind": anchor.kind,
        "dataset": test.dataset, "metric": metric, "method": method, "aggregation": aggregation,
        "aggregation_label": PER_IMAGE_LABEL if aggregation == "per-image" else AGGREGATION_LABELS.get(aggregation),
        "bd_rate": None, "bd_quality": None, "overlap": None, "points": None, "status": "ok", "warnings": [],
        "anchor_provenance": anchor.provenance, "test_provenance_kind": KINDS[test.kind],
    }
    try:
        check_same_images(anchor, test)
        if aggregation == "per-image":
            _per_image(anchor, test, metric, method, row)
        else:
            ar, aq, an = anchor.rd(metric, aggregation)
            tr, tq, tn = test.rd(metric, aggregation)
            row["warnings"] += an + tn + anchor.warnings + test.warnings
            aq, tq = oriented(metric, aq), oriented(metric, tq)
            r = bd_rate(ar, aq, tr, tq, method)
            q = oriented_delta(metric, bd_quality(ar, aq, tr, tq, method))
            row.update(points=f"{r.n_anchor}/{r.n_test}", overlap=r.overlap)
            row["warnings"] += r.warnings
            if not r.ok:
                row["status"] = r.status
            else:
                row["bd_rate"], row["bd_quality"] = r.value, q.value if q.ok else None
    except LicBenchError as e:
        row["status"] = f"not computable: {e}"
    return row


def oriented(metric: str, qualities: list[float]) -> list[float]:
    """Qualities on an axis where higher is better (BD-rate integrates rising curves): a lower-is-better
    metric (Butteraugli, LPIPS, DISTS, FLIP) is negated."""
    from .record import metric as table_entry

    return list(qualities) if table_entry(metric).higher_is_better else [-x for x in qualities]


def oriented_delta(metric: str, result):
    """A BD-quality computed on the oriented axis, back in the metric's own units (test − anchor)."""
    from .record import metric as table_entry

    if not table_entry(metric).higher_is_better and result.ok:
        result.value = -result.value
    return result


def matched_deltas(reference: Curve, test: Curve, metric: str) -> list[dict] | None:
    """Quality differences at matched rates, per image: for two curves rate-matched to the same targets
    (run -q bpp=…), test − reference of `metric` on each image at each target, with its spread.
    None when the curves are not both rate-matched to the same kind of target."""
    import statistics

    from .record import METRICS

    kinds = {(c.provenance.get("target") or {}).get("kind") for c in (reference, test)}
    if len(kinds) != 1 or None in kinds or reference.records is None or test.records is None:
        return None
    ref = {(r.op, r.image): r for r in reference.records if r.ok}
    by_op: dict[float, list[tuple[str, float, float]]] = {}
    for r in test.records:
        b = ref.get((r.op, r.image))
        if r.ok and b is not None:
            dq = METRICS[metric].per_image(r) - METRICS[metric].per_image(b)
            db = METRICS["bpp"].per_image(r) - METRICS["bpp"].per_image(b)
            by_op.setdefault(r.op, []).append((r.image, dq, db))
    kind = next(iter(kinds))
    out = []
    for op, vals in sorted(by_op.items()):
        dq = [v[1] for v in vals]
        q = statistics.quantiles(dq, n=4) if len(dq) > 1 else [dq[0]] * 3
        out.append({"target": op, "kind": kind, "images": len(vals),
                    "mean": sum(dq) / len(dq), "median": statistics.median(dq), "q1": q[0], "q3": q[2],
                    "better": sum(1 for x in dq if (x > 0) == METRICS[metric].higher_is_better and x != 0),
                    "max_abs_bpp_gap": max(abs(v[2]) for v in vals)})
    return out


def check_same_images(a: Curve, b: Curve) -> None:
    """Two curves are comparable only on the same images: per-image records must cover the same image
    names; a curve published as means of a registered dataset needs records of all its images."""
    from .datasets import registry

    ia = set(a.by_image()) if a.records is not None else None
    ib = set(b.by_image()) if b.records is not None else None
    if ia is not None and ib is not None and ia != ib:
        only = sorted(ia ^ ib)
        raise LicBenchError(f"{a.name} and {b.name} are on different images ({len(ia)} vs {len(ib)}; e.g. {only[0]} is in one only)")
    known = registry().get(a.dataset)
    for mine, other in ((ia, b), (ib, a)):
        if mine is not None and other.records is None and known is not None and known.count and len(mine) != known.count:
            raise LicBenchError(f"{other.name} is published as means over the {known.count} images of {a.dataset}; "
                                f"the other curve has {len(mine)} image(s)")


def _per_image(anchor: Curve, test: Curve, metric: str, method: str, row: dict) -> None:
    from .aggregate import aggregate

    a_imgs, t_imgs = anchor.by_image(), test.by_image()
    common = sorted(set(a_imgs) & set(t_imgs))
    if not common:
        raise LicBenchError("no image in common between anchor and test")
    rates, quals, overlaps, skipped = [], [], [], []
    for img in common:
        pa = [p for p in aggregate(a_imgs[img]) if p.n_images]
        pt = [p for p in aggregate(t_imgs[img]) if p.n_images]
        qa, qt = oriented(metric, [p.quality(metric) for p in pa]), oriented(metric, [p.quality(metric) for p in pt])
        r = bd_rate([p.bpp for p in pa], qa, [p.bpp for p in pt], qt, method)
        q = oriented_delta(metric, bd_quality([p.bpp for p in pa], qa, [p.bpp for p in pt], qt, method))
        if r.ok:
            rates.append(r.value)
            overlaps.append(r.overlap)
            if q.ok:
                quals.append(q.value)
        else:
            skipped.append(img)
    if not rates:
        raise LicBenchError(f"no image has overlapping curves ({len(common)} compared)")
    if skipped:
        row["warnings"].append(f"{len(skipped)} image(s) without overlap left out: {', '.join(skipped[:5])}")
    row.update(bd_rate=sum(rates) / len(rates), bd_quality=sum(quals) / len(quals) if quals else None,
               overlap=min(overlaps), points=f"{len(rates)} images")


def fmt_value(x, unit: str) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:+.2f}{unit}"
