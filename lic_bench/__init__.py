"""lic-bench: rate-distortion benchmarking for learned image compression.

The harness owns every convention (colour, padding, rounding, metrics, bpp, aggregation, timing);
codec adapters only turn pixels into bytes and bytes back into pixels.

The Python API is the same library the commands call (:mod:`lic_bench.api`): ``run``, ``records``,
``curves``, ``bdrate``, ``compare``, ``report``, ``baseline_save``, ``gate``, ``prune``, ``score``, ``metrics_add``,
``load_model``. Names
(datasets by registered name, folder path or content hash; curves by any kind of name) resolve as
in the CLI. No public name here is also a submodule, so none is shadowed by an import.

Importing this package is cheap: each function is imported on first use (with its full signature and
documentation), torch and the codec libraries only when a computation needs them.
"""

__version__ = "0.1.0"

#: Version of the measurement definitions (metrics, colour matrices, bpp). It is part of every
#: result key: records made under another metric version are never mixed or reused.
METRIC_VERSION = "1"

__all__ = ["__version__", "METRIC_VERSION", "run", "records", "curves", "bdrate", "compare", "report", "baseline_save",
           "gate", "prune", "score", "metrics_add", "load_model"]


#: each public function is the library function the commands call, imported on first use
_PUBLIC = {**{name: "api" for name in ("run", "records", "curves", "bdrate", "compare", "report", "baseline_save",
                                      "gate", "prune", "score", "metrics_add")},
           "load_model": "learned.zoo"}


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'lic_bench' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
