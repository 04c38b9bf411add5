"""`lic-bench anchors list / verify` and the vtm-23.13 spec, through the CLI (the fake VTM decodes a tiny
anchor made by the real adapter; see test_anchors.py for the library's own tests)."""

import json

from typer.testing import CliRunner

from lic_bench import api
from lic_bench.cli import app
from lic_bench.specs import _builtin_dir, _parse_spec_file
from test_anchors import _edit_record, tiny_anchor, tiny_master, vtm_dir  # noqa: F401  (fixtures)

runner = CliRunner()


def test_anchors_list_names_versions_metrics_and_bitstreams():
    r = runner.invoke(app, ["anchors", "list", "-f", "json"])
    assert r.exit_code == 0, r.output
    rows = {a["name"]: a for a in json.loads(r.output)}
    assert rows["vtm-12.1"]["codec_version"] == "12.1" and rows["vtm-23.13"]["codec_version"] == "23.13"
    assert rows["vtm-12.1"]["bitstreams"] and not rows["vtm-12.1-v1"]["bitstreams"]
    assert "ms-ssim-db" in rows["vtm-23.13"]["metrics"] and rows["vtm-12.1-v1"]["metrics"] == ["psnr-rgb"]
    r = runner.invoke(app, ["anchors", "list"])
    assert "VTM 23.13" in r.output and "VTM 12.1" in r.output


def _verify_cli(tiny, vtm, *extra):
    anchors_dir, _, images = tiny
    return runner.invoke(app, ["anchors", "verify", "fake-vtm", "--dataset", "crops", "--vtm-dir", str(vtm),
                               "--images-dir", str(images), "--anchors-dir", str(anchors_dir), *extra])


def test_anchors_verify_passes_and_fails_naming_the_record(tiny_anchor, vtm_dir):  # noqa: F811
    r = _verify_cli(tiny_anchor, vtm_dir, "--jobs", "2")
    assert r.exit_code == 0, r.output
    assert "all 4 records reproduced" in r.output and "VTM 12.1" in r.output
    before = json.loads((tiny_anchor[1] / "records.jsonl").read_text().splitlines()[2])
    _edit_record(tiny_anchor[1], 2, sse_b=before["sse_b"] + 1)
    r = _verify_cli(tiny_anchor, vtm_dir)
    assert r.exit_code == 1
    assert "FAILED: 1 of 4 records differ: coffee-crop qp27 (sse_b)" in r.output
    r = _verify_cli(tiny_anchor, vtm_dir, "-f", "json")
    d = json.loads(r.output)
    assert r.exit_code == 1 and not d["passed"] and [i["item"] for i in d["items"] if not i["passed"]] == ["coffee-crop qp27"]


def test_anchors_verify_api_is_the_same(tiny_anchor, vtm_dir):  # noqa: F811
    rep = api.anchors_verify("fake-vtm", "crops", vtm_dir=vtm_dir, images_dir=tiny_anchor[2], anchors_dir=tiny_anchor[0])
    assert rep.passed and len(rep.items) == 4


def test_verify_of_an_anchor_without_bitstreams_is_one_line_exit_2(vtm_dir):  # noqa: F811
    r = runner.invoke(app, ["anchors", "verify", "vtm-12.1-v1", "--vtm-dir", str(vtm_dir)])
    assert r.exit_code != 0 and "ships no bitstreams" in str(r.exception or r.output)


def test_vtm_23_13_is_a_builtin_spec_recording_its_version():
    spec = _parse_spec_file((_builtin_dir() / "vtm-23.13.yaml").read_text(), "vtm-23.13.yaml")
    assert spec.name == "vtm-23.13" and spec.adapter == "vtm" and spec.params["version"] == "23.13"
    assert list(spec.operating_points) == [22, 27, 32, 37, 42, 47]
