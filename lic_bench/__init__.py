"""lic-bench: rate-distortion benchmarking for learned image compression.

The harness owns every convention (colour, padding, rounding, metrics, bpp, aggregation, timing);
codec adapters only turn pixels into bytes and bytes back into pixels.

The Python API is the same library the commands call (:mod:`lic_bench.api`): ``run``, ``records``,
``curves``, ``bdrate``, ``compare``, ``report``, ``baseline_save``, ``gate``, ``prune``, ``score``, ``metrics_add``,
``load_model``. Names
(datasets by registered name, folder path or content hash; curves by any kind of name) resolve as
in the CLI. No public name here is also a submodule, so none is shadowed by an import.

Importing this package is cheap: torch and the codec libraries are imported only when used.
"""

__version__ = "0.1.0"

#: Version of the measurement definitions (metrics, colour matrices, bpp). It is part of every
#: result key: records made under another metric version are never mixed or reused.
METRIC_VERSION = "1"

__all__ = ["__version__", "METRIC_VERSION", "run", "records", "curves", "bdrate", "compare", "report", "baseline_save",
           "gate", "prune", "score", "metrics_add", "load_model"]


def run(codecs, dataset: str = "sample", **kwargs):
    """Evaluate codecs on a dataset (cached); returns an api.RunResult (summary, dataset, results)."""
    from .api import run as _run

    return _run(codecs, dataset, **kwargs)


def prune(dataset: str, codecs, **kwargs) -> list:
    """Delete chosen records (qualities=, status=; dry_run=True only lists them); returns the records chosen."""
    from .api import prune as _prune

    return _prune(dataset, codecs, **kwargs)


def records(dataset: str, codecs=None, store=None, data_dir=None):
    """Per-image records with every metric, as a pandas DataFrame."""
    from .api import records as _records

    return _records(dataset, codecs=codecs, store=store, data_dir=data_dir)


def curves(dataset: str, codecs=None, store=None, aggregation: str = "mean", data_dir=None):
    """Aggregated RD curves of `dataset` as a pandas DataFrame (column 'aggregation' says how)."""
    from .api import curves as _curves

    return _curves(dataset, codecs=codecs, store=store, aggregation=aggregation, data_dir=data_dir)


def bdrate(dataset: str, codecs=None, anchor: str = "vtm-12.1", **kwargs):
    """BD-rate rows of curves against an anchor (an api.BDTable: anchor, rows)."""
    from .api import bdrate as _bdrate

    return _bdrate(dataset, codecs, anchor, **kwargs)


def compare(codec: str, reference: str, dataset: str, **kwargs) -> dict:
    """One curve against another: BD-rate and Δquality at equal rate."""
    from .api import compare as _compare

    return _compare(codec, reference, dataset, **kwargs)


def report(dataset: str, codecs=None, **kwargs):
    """Write the HTML report; returns (path, size in bytes)."""
    from .api import report as _report

    return _report(dataset, codecs, **kwargs)


def baseline_save(dataset: str, codecs=None, out="results/baselines", **kwargs):
    """Save baseline files for the gate; returns [(path, results)]."""
    from .api import baseline_save as _save

    return _save(dataset, codecs, out, **kwargs)


def gate(baseline, dataset: str | None = None, codecs=None, **kwargs):
    """Judge current results against baselines; returns an api.GateResult (verdicts, exit_code)."""
    from .api import gate as _gate

    return _gate(baseline, dataset, codecs, **kwargs)


def score(metrics, reference, distorted, **options) -> dict:
    """Score one image pair (paths or uint8 RGB arrays) with metrics of the table: {metric: value}."""
    from .api import score as _score

    return _score(metrics, reference, distorted, **options)


def metrics_add(metrics, dataset: str, codecs=None, **kwargs):
    """Add pixel metrics to stored results from their stored bitstreams (no re-encoding)."""
    from .api import metrics_add as _add

    return _add(metrics, dataset, codecs, **kwargs)


def load_model(name: str, checkpoint=None, device: str = "cpu", **kwargs):
    """A learned codec's model, ready to use (see :func:`lic_bench.learned.zoo.load_model`)."""
    from .learned.zoo import load_model as _load

    return _load(name, checkpoint=checkpoint, device=device, **kwargs)
