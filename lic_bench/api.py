"""Python API: results as pandas DataFrames."""

from __future__ import annotations

from .results import codec_results, curves_frame, records_frame
from .store import Store


def records(dataset: str, codecs=None, store=None):
    """Per-image records (one row per codec, operating point and image) with derived metrics."""
    with Store(store, readonly=True) as st:
        return records_frame(codec_results(st, dataset, codecs))


def curves(dataset: str, codecs=None, store=None, aggregation: str = "mean"):
    """One row per codec and operating point, aggregated as named (column 'aggregation')."""
    with Store(store, readonly=True) as st:
        return curves_frame(codec_results(st, dataset, codecs), aggregation)
