"""Reading official-format checkpoints (untrusted input: ``weights_only=True``) into our models.

Accepted layouts: a dict with ``state_dict`` (official TCM/TIC training scripts), ``network``,
``model_state_dict`` or ``model``, or a bare state dict; DataParallel ``module.`` prefixes;
EntropyBottleneck names of compressai ≤ 1.2.6 (``_matrix0``/``_bias0``/``_factor0``) and ≥ 1.2.7
(``matrices.0``…); entropy-coder CDF buffers empty (saved before ``update()``) or filled.
Loading is strict: any missing, unexpected or mis-shaped key is one clear error.
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import LicBenchError

WRAPPER_KEYS = ("state_dict", "network", "model_state_dict", "model")
#: Entropy-coder buffers whose size depends on update(): resized to the checkpoint's before loading.
RESIZABLE = ("_offset", "_quantized_cdf", "_cdf_length", "scale_table")
_OLD_EB = re.compile(r"^(.*entropy_bottleneck\.)_(matrix|bias|factor)(\d+)$")
_NEW_EB = re.compile(r"^(.*entropy_bottleneck\.)(matrices|biases|factors)\.(\d+)$")
_OLD_TO_NEW = {"matrix": "matrices", "bias": "biases", "factor": "factors"}
_NEW_TO_OLD = {v: k for k, v in _OLD_TO_NEW.items()}


def unsafe_pickle_reason(e: BaseException) -> str:
    """Why torch.load(weights_only=True) refused a file, without PyTorch's advice to load it unsafely
    (lic-bench never unpickles code from a checkpoint, whoever made it)."""
    m = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
    what = f"Python object {m.group(1)}" if m else "Python objects"
    return f"it holds {what} besides tensors, which lic-bench never unpickles"


def read_state_dict(path: str | Path) -> dict:
    """The tensors of a checkpoint file, unwrapped and with DataParallel prefixes removed."""
    import pickle
    import zipfile

    import torch

    path = Path(path)
    if not path.is_file():
        raise LicBenchError(f"checkpoint {path} not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise LicBenchError(f"checkpoint {path}: cannot be read safely, {unsafe_pickle_reason(e)}; "
                            "export its state_dict (tensors only) with torch.save from a copy you trust") from None
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise LicBenchError(f"checkpoint {path}: cannot be read safely (truncated, corrupt or not a torch file): {first[:200]}") from None
    sd = obj
    if isinstance(obj, dict):
        for k in WRAPPER_KEYS:
            if k in obj and isinstance(obj[k], dict):
                sd = obj[k]
                break
    if not isinstance(sd, dict) or not sd or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise LicBenchError(f"checkpoint {path}: no state dict of tensors found (looked for {', '.join(WRAPPER_KEYS)} or a bare state dict)")
    return {_strip_module(k): v for k, v in sd.items()}


def _strip_module(key: str) -> str:
    while key.startswith("module."):
        key = key[len("module."):]
    return key


def adapt_eb_names(sd: dict, model_keys) -> dict:
    """Rename EntropyBottleneck parameters to the naming generation the model uses."""
    model_keys = set(model_keys)
    out = {}
    for k, v in sd.items():
        m_old, m_new = _OLD_EB.match(k), _NEW_EB.match(k)
        if m_old and k not in model_keys:
            cand = f"{m_old.group(1)}{_OLD_TO_NEW[m_old.group(2)]}.{m_old.group(3)}"
            k = cand if cand in model_keys else k
        elif m_new and k not in model_keys:
            cand = f"{m_new.group(1)}_{_NEW_TO_OLD[m_new.group(2)]}{m_new.group(3)}"
            k = cand if cand in model_keys else k
        out[k] = v
    return out


def key_problems(model_shapes: dict, sd: dict) -> tuple[list[str], list[str], list[str]]:
    """(missing, unexpected, mis-shaped) keys; entropy CDF buffers may differ in size."""
    missing = sorted(set(model_shapes) - set(sd))
    unexpected = sorted(set(sd) - set(model_shapes))
    bad = sorted(k for k in set(sd) & set(model_shapes)
                 if tuple(sd[k].shape) != tuple(model_shapes[k]) and not k.endswith(RESIZABLE))
    return missing, unexpected, bad


def load_into(model, sd: dict, label: str, where: str, identify=None) -> None:
    """Strictly load `sd` into `model` (resizing entropy buffers), or raise one clear error.

    identify(sd) -> str | None may name the configuration the checkpoint really belongs to.
    """
    sd = adapt_eb_names(sd, model.state_dict().keys())
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    missing, unexpected, bad = key_problems(shapes, sd)
    if missing or unexpected or bad:
        parts = []
        for name, items in (("missing", missing), ("unexpected", unexpected)):
            if items:
                parts.append(f"{len(items)} {name} (e.g. {', '.join(items[:3])})")
        if bad:
            parts.append(f"{len(bad)} mis-shaped (e.g. {bad[0]}: checkpoint {tuple(sd[bad[0]].shape)} vs {label} {shapes[bad[0]]})")
        guess = identify(sd) if identify else None
        hint = f"; this checkpoint looks like {guess}" if guess and guess != label else ""
        raise LicBenchError(f"checkpoint {where} does not fit {label}: {'; '.join(parts)}{hint}")
    for k, v in sd.items():
        if k.endswith(RESIZABLE):
            mod_path, _, attr = k.rpartition(".")
            module = model.get_submodule(mod_path)
            module._buffers[attr] = module._buffers[attr].new_empty(v.shape)
    model.load_state_dict(sd, strict=True)
