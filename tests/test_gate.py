import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from lic_bench.cli import app
from lic_bench.gating import DEFAULT_THRESHOLDS, thresholds_for, timing_verdict

runner = CliRunner()
Q = "10,25,40,60,80"


def invoke(*args):
    return runner.invoke(app, list(args))


@pytest.fixture
def baseline(small_dataset, tmp_path):
    r = invoke("run", "--codecs", "webp", "-d", str(small_dataset), "-q", Q, "--no-progress")
    assert r.exit_code == 0, r.output
    r = invoke("baseline", "save", "-d", "imgs", "--codecs", "webp", "-o", str(tmp_path / "baselines"))
    assert r.exit_code == 0, r.output
    path = tmp_path / "baselines" / "imgs" / "webp.json"
    doc = json.loads(path.read_text())
    assert doc["schema"] == "lic-bench-baseline" and doc["schema_version"] == 1 and len(doc["records"]) == 15
    assert doc["identity"]["versions"]["webp"] and doc["conditions"]["dataset_content_sha256"]
    return path


def gate(path, *extra):
    r = invoke("gate", "--baseline", str(path), "-f", "json", *extra)
    return r.exit_code, json.loads(r.output)


def test_a_same_run_passes(baseline):
    code, out = gate(baseline)
    (v,) = out["verdicts"]
    assert code == 0 and v["outcome"] == "pass" and abs(v["bd_rate"]) < 1e-9 and v["changes"] == []
    assert any("0 bitstream md5 changed" in n for n in v["notes"])


def test_b_worse_parameter_fails_with_bd_rate_and_change(baseline, small_dataset):
    r = invoke("run", "--codecs", "webp:method=0", "-d", str(small_dataset), "-q", Q, "--no-progress")
    assert r.exit_code == 0
    # verify independently that method=0 really compresses worse on these images
    r = invoke("bdrate", "-d", "imgs", "--anchor", "webp", "--codecs", "webp:method=0", "-f", "json")
    assert json.loads(r.output)[0]["bd_rate"] > 0.5
    code, out = gate(baseline)
    (v,) = out["verdicts"]
    assert code == 1 and v["outcome"] == "fail" and v["codec"] == "webp:method=0"
    assert v["bd_rate"] > 0.5 and any(x.startswith("BD-rate +") for x in v["reasons"])
    assert "params.method: 4 -> 0" in v["changes"]
    r = invoke("gate", "--baseline", str(baseline))
    assert r.exit_code == 1 and "params.method: 4 -> 0" in r.output and "fail" in r.output


def test_match_pairs_named_specs_and_thresholds_config(baseline, small_dataset, tmp_path):
    invoke("run", "--codecs", "webp:method=0", "-d", str(small_dataset), "-q", Q, "--no-progress")
    cfg = tmp_path / "gate.yaml"
    cfg.write_text("default: {max_bd_rate: 0.5}\ncodecs:\n  'webp:*': {max_bd_rate: 50, max_psnr_drop: 5}\n")
    code, out = gate(baseline, "--config", str(cfg))
    assert code == 0 and out["verdicts"][0]["thresholds"]["max_bd_rate"] == 50
    code, out = gate(baseline, "--match", "webp=webp", "--codecs", "webp")
    assert code == 0 and out["verdicts"][0]["codec"] == "webp"


def test_c_different_dataset_content_is_not_comparable(baseline, small_dataset, tmp_path):
    img = np.asarray(Image.open(small_dataset / "a.png")).copy()
    img[0, 0] = 0
    Image.fromarray(img).save(small_dataset / "a.png")
    invoke("run", "--codecs", "webp", "-d", str(small_dataset), "-q", Q, "--no-progress")
    code, out = gate(baseline)
    (v,) = out["verdicts"]
    assert code == 0 and v["outcome"] == "not-comparable"
    assert v["reasons"][0].startswith("dataset_content_sha256: baseline")
    code, _ = gate(baseline, "--strict")
    assert code == 1


def test_d_corrupted_decode_fails(small_dataset, tmp_path, monkeypatch):
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        spec_dir = Path.cwd() / "codecs"
        spec_dir.mkdir()
        (spec_dir / "raw.yaml").write_text("name: raw\nadapter: 'gate_codecs:Raw'\noperating_points: [1, 2, 4, 8]\n")
        assert invoke("run", "--codecs", "raw", "-d", str(small_dataset), "--no-progress").exit_code == 0
        invoke("baseline", "save", "-d", "imgs", "--codecs", "raw", "-o", str(tmp_path / "b"))
        r = invoke("run", "--codecs", "raw:perturb=true", "-d", str(small_dataset), "--no-progress")
        assert r.exit_code == 0  # a mismatch is recorded, not a crash
        code, out = gate(tmp_path / "b")
        (v,) = out["verdicts"]
        assert code == 1 and v["outcome"] == "fail" and any("12 encoder/decoder mismatch" in x for x in v["reasons"])
    finally:
        sys.path.remove(str(Path(__file__).parent))


def test_e_timing_slower_not_significant_passes_with_advisory(baseline, tmp_path):
    doc = json.loads(baseline.read_text())
    # a noisy baseline: run-to-run jitter with a slightly faster median (jitter away from the median
    # keeps the order, so the median is 0.95x whatever this machine's timings were)
    recs = sorted(doc["records"], key=lambda r: r["enc_s"] + r["dec_s"])
    mid = len(recs) // 2
    for k, r in enumerate(recs):
        f = 0.95 if k == mid else (0.7 if k < mid else 1.3)
        r["enc_s"] *= f
        r["dec_s"] *= f
    noisy = tmp_path / "noisy.json"
    noisy.write_text(json.dumps(doc))
    code, out = gate(noisy, "--max-time-ratio", "1.0")
    (v,) = out["verdicts"]
    assert code == 0 and v["outcome"] == "pass"
    assert v["time_ratio"] > 1.0 and v["time_p_value"] >= 0.01
    assert any("over 1.0× but not significant" in n for n in v["notes"])
    # consistently 3x slower is significant: advisory note by default, failure when enforced
    fast = tmp_path / "fast.json"
    base = json.loads(baseline.read_text())
    for r in base["records"]:
        r["enc_s"] /= 3
        r["dec_s"] /= 3
    fast.write_text(json.dumps(base))
    code, out = gate(fast)
    assert code == 0 and any(n.startswith("advisory: slower") for n in out["verdicts"][0]["notes"])
    code, out = gate(fast, "--timing", "enforce")
    assert code == 1 and any(x.startswith("slower") for x in out["verdicts"][0]["reasons"])


def test_missing_markdown_and_usage_errors(baseline, tmp_path):
    doc = json.loads(baseline.read_text())
    doc["codec"] = "jpeg"
    other = tmp_path / "jpeg.json"
    other.write_text(json.dumps(doc))
    md = tmp_path / "summary.md"
    r = invoke("gate", "--baseline", str(other), "--markdown", str(md))
    assert r.exit_code == 1 and "missing" in md.read_text() and md.read_text().startswith("### lic-bench gate")
    (tmp_path / "junk.json").write_text("{}")
    r = invoke("gate", "--baseline", str(tmp_path / "junk.json"))
    assert r.exit_code != 0 and "not a lic-bench baseline" in str(r.exception)
    r = invoke("gate", "--baseline", str(baseline), "--timing", "sometimes")
    assert r.exit_code == 2


def test_timing_verdict_and_threshold_rules():
    ratio, p, slow = timing_verdict([1.0, 1.1, 0.9, 1.0, 1.05] * 4, [2.0, 2.1, 1.9, 2.0, 2.05] * 4, 1.2, 0.01)
    assert ratio == pytest.approx(2.0) and p < 0.01 and slow
    ratio, p, slow = timing_verdict([1.0, 3.0, 0.5, 2.0], [1.5, 2.5, 0.8, 2.6], 1.2, 0.01)
    assert not slow
    assert thresholds_for("tcm-large", {**DEFAULT_THRESHOLDS}, [("tcm-*", {"max_bd_rate": 1.0}), ("re:^tcm-l", {"alpha": 0.05})]) == \
        {**DEFAULT_THRESHOLDS, "max_bd_rate": 1.0, "alpha": 0.05}


def test_gate_on_a_pixel_metric_uses_the_metric_values_the_baseline_carries(baseline, tmp_path):
    code, out = gate(baseline, "--metric", "ssimulacra2", "--strict")  # saved before SSIMULACRA 2 was computed
    (v,) = out["verdicts"]
    assert code == 1 and v["outcome"] == "not-comparable" and "hold no ssimulacra2 values" in v["reasons"][0]
    r = invoke("metrics", "add", "ssimulacra2", "-d", "imgs", "--codecs", "webp")
    assert r.exit_code == 0, r.output
    r = invoke("baseline", "save", "-d", "imgs", "--codecs", "webp", "-o", str(tmp_path / "with-metric"))
    assert r.exit_code == 0, r.output
    saved = tmp_path / "with-metric" / "imgs" / "webp.json"
    rec = json.loads(saved.read_text())["records"][0]
    assert rec["metrics"]["ssimulacra2"] > 0 and rec["metric_ids"]["ssimulacra2"]
    code, out = gate(saved, "--metric", "ssimulacra2")
    (v,) = out["verdicts"]
    assert code == 0 and v["outcome"] == "pass" and abs(v["bd_rate"]) < 1e-9
