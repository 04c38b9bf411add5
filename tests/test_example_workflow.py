"""The example CI workflow's lic-bench steps run as written, against the committed sample baseline."""

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_example_workflow_commands_run_and_pass(tmp_path, monkeypatch):
    wf = yaml.safe_load((ROOT / "examples" / "github-actions-gate.yml").read_text())
    steps = [s["run"] for s in wf["jobs"]["gate"]["steps"] if "run" in s and s["run"].startswith("lic-bench")]
    assert len(steps) == 2
    shutil.copytree(ROOT / "results" / "baselines", tmp_path / "results" / "baselines")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LIC_BENCH_STORE")
    for cmd in steps:
        args = shlex.split(cmd)
        p = subprocess.run([sys.executable, "-m", "lic_bench", *args[1:]], capture_output=True, text=True)
        assert p.returncode == 0, (cmd, p.stdout, p.stderr)
    summary = (tmp_path / "gate-summary.md").read_text()
    assert "| `webp` | ✅ pass |" in summary
