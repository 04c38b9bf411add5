"""lic-bench: rate-distortion benchmarking for learned image compression.

The harness owns every convention (colour, padding, rounding, metrics, bpp, aggregation, timing);
codec adapters only turn pixels into bytes and bytes back into pixels.

Importing this package is cheap: torch and the codec libraries are imported only when used.
"""

__version__ = "0.1.0"

#: Version of the measurement definitions (metrics, colour matrices, bpp). It is part of every
#: result key: records made under another metric version are never mixed or reused.
METRIC_VERSION = "1"

__all__ = ["__version__", "METRIC_VERSION", "records", "curves", "load_model"]


def records(dataset: str, codecs=None, store=None):
    """Per-image records of `dataset` as a pandas DataFrame (see :mod:`lic_bench.api`)."""
    from .api import records as _records

    return _records(dataset, codecs=codecs, store=store)


def curves(dataset: str, codecs=None, store=None, aggregation: str = "mean"):
    """Aggregated RD curves of `dataset` as a pandas DataFrame (see :mod:`lic_bench.api`)."""
    from .api import curves as _curves

    return _curves(dataset, codecs=codecs, store=store, aggregation=aggregation)


def load_model(name: str, checkpoint=None, device: str = "cpu", **kwargs):
    """A learned codec's model, ready to use (see :func:`lic_bench.learned.zoo.load_model`)."""
    from .learned.zoo import load_model as _load

    return _load(name, checkpoint=checkpoint, device=device, **kwargs)
