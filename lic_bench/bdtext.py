"""Words every BD output shares: which anchor (and which VTM) it is, which curves lack a metric. Pure."""

from __future__ import annotations


def anchor_version(curve) -> str | None:
    """The anchor's codec version as it should be cited ("VTM 12.1"), or None when it has none."""
    prov = getattr(curve, "provenance", None) or {}
    v = prov.get("vtm_version")
    if v:
        return f"VTM {v}"
    import re

    m = re.search(r"VTM[ -]?(?:Encoder Version )?([0-9]+\.[0-9]+(?:\.[0-9]+)?)", str(prov.get("encoder") or prov.get("codec") or ""))
    if m:
        return f"VTM {m.group(1)}"
    m = re.match(r"vtm-([0-9]+\.[0-9]+)", getattr(curve, "name", "") or "")
    return f"VTM {m.group(1)}" if m else None


def anchor_caption(curve) -> str:
    """'VTM 12.1 (encoder line …)' or the best provenance there is."""
    prov = getattr(curve, "provenance", None) or {}
    detail = prov.get("encoder") or prov.get("citation") or prov.get("spec_digest") or ""
    v = anchor_version(curve)
    if v and detail:
        return f"{v} ({detail})"
    return v or str(detail)


def metric_notes(rows: list[dict]) -> list[str]:
    """One line per curve and metric it does not publish, so a missing number is never a mystery."""
    out = []
    for r in rows:
        st = r.get("status") or ""
        if r.get("bd_rate") is None and "has no" in st and "values" in st:
            import re

            who = "reported curve" if r.get("test_kind") == "reported" else f"{r.get('test_kind')} curve"
            m = re.search(r"\(it publishes ([^)]*)\)", st)
            out.append(f"no {r['metric']} for {r['codec']}: the {who} lacks it" + (f" (it publishes {m.group(1)} only)" if m else ""))
    return out
