import subprocess
import sys
import textwrap

import pytest

from lic_bench import registry
from lic_bench.errors import LicBenchError
from lic_bench.runner import prepare
from lic_bench.specs import available_specs, parse_inline, resolve_spec


def test_shipped_specs_load_and_match_adapters():
    specs = available_specs()
    assert {"webp", "jpeg", "jpeg2000", "avif", "vtm-12.1"} <= set(specs)
    assert specs["webp"].operating_points == (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
    for s in specs.values():
        assert s.adapter in registry.adapter_names()


def test_inline_parameters_make_a_new_spec_and_digest():
    base = resolve_spec("webp")
    fast = resolve_spec("webp:method=0")
    assert fast.name == "webp:method=0" and fast.base_name == "webp" and fast.params["method"] == "0"
    d0, d1 = prepare(base).digest, prepare(fast).digest
    assert d0 != d1
    assert prepare(resolve_spec("webp:method=4")).digest == d0  # same resolved params, same results
    assert parse_inline("jpeg:subsampling=444:optimize=true") == ("jpeg", {"subsampling": "444", "optimize": "true"})


def test_unknown_names_get_did_you_mean():
    with pytest.raises(LicBenchError, match="unknown codec 'wepb'.*did you mean 'webp'"):
        resolve_spec("wepb")
    with pytest.raises(LicBenchError, match="parameter 'methd' is unknown.*did you mean 'method'"):
        prepare(resolve_spec("webp:methd=1"))
    with pytest.raises(LicBenchError, match="method=9"):
        prepare(resolve_spec("webp:method=9"))
    with pytest.raises(LicBenchError, match="key=value"):
        resolve_spec("webp:method")


def test_working_directory_spec_overrides(tmp_path, monkeypatch):
    (tmp_path / "codecs").mkdir()
    (tmp_path / "codecs" / "webp.yaml").write_text("name: webp\nadapter: webp\noperating_points: [70, 80]\nparams: {method: 6}\n")
    (tmp_path / "codecs" / "mine.yaml").write_text("name: jpeg-hq\nadapter: jpeg\noperating_points: [95]\n")
    monkeypatch.chdir(tmp_path)
    s = resolve_spec("webp")
    assert s.operating_points == (70, 80) and s.params == {"method": 6} and "codecs/webp.yaml" in s.source
    assert resolve_spec("jpeg-hq").adapter == "jpeg"


@pytest.mark.parametrize("text,match", [
    ("name: x\nadapter: webp\nqualities: [1]\n", "unknown key 'qualities'"),
    ("name: x\nadapter: webp\nparams: !!python/object:os.system {}\n", "invalid YAML"),
    ("- just\n- a list\n", "must be a mapping"),
    ("name: x\noperating_points: [1]\n", "missing or empty 'adapter'"),
    ("name: x\nadapter: webp\noperating_points: [a]\n", "list of numbers"),
])
def test_bad_spec_files(tmp_path, monkeypatch, text, match):
    (tmp_path / "codecs").mkdir()
    (tmp_path / "codecs" / "bad.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LicBenchError, match=match) as e:
        available_specs()
    assert "bad.yaml" in str(e.value)


PLUGIN = '''
import numpy as np
from lic_bench.adapters import Codec, Param

class Invert(Codec):
    """A toy lossless codec: stores the inverted image with a tiny header."""
    default_operating_points = (1,)
    params = {"offset": Param(0, "added to every sample")}
    def encode(self, image, op):
        h, w, _ = image.shape
        return h.to_bytes(4, "big") + w.to_bytes(4, "big") + (255 - image).tobytes()
    def decode(self, data):
        h, w = int.from_bytes(data[:4], "big"), int.from_bytes(data[4:8], "big")
        return 255 - np.frombuffer(data[8:], np.uint8).reshape(h, w, 3)
'''


def test_entry_point_plugin_is_discovered_and_runs(tmp_path, monkeypatch, small_dataset):
    """A real installed-distribution layout (dist-info with entry_points.txt) on sys.path."""
    site = tmp_path / "site"
    (site / "toyplugin").mkdir(parents=True)
    (site / "toyplugin" / "__init__.py").write_text(PLUGIN)
    info = site / "toyplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[lic_bench.codecs]\ninvert = toyplugin:Invert\n")
    monkeypatch.syspath_prepend(str(site))
    registry.refresh()
    try:
        assert registry.adapter_names()["invert"] == "toyplugin:Invert"
        from lic_bench.datasets import locate
        from lic_bench.results import codec_results
        from lic_bench.runner import execute
        from lic_bench.store import Store

        with Store() as st:
            s = execute([prepare(resolve_spec("invert"))], locate(str(small_dataset)), st, progress=False)
            assert s.done == 3 and not s.failed
            (cr,) = codec_results(st, "imgs", ["invert"])
            assert all(r["sse_r"] == 0 and r["bytes"] == 8 + 3 * r["height"] * r["width"] for r in cr.records)
    finally:
        monkeypatch.undo()
        registry.refresh()


def test_list_and_help_do_not_import_torch():
    code = textwrap.dedent("""
        import sys
        from typer.testing import CliRunner
        from lic_bench.cli import app
        r = CliRunner()
        for args in (["--help"], ["list", "codecs"], ["list", "datasets"], ["run", "--help"]):
            res = r.invoke(app, args)
            assert res.exit_code == 0, (args, res.output)
        bad = [m for m in ("torch", "PIL.WebPImagePlugin", "pandas", "scipy") if m in sys.modules]
        assert not bad, bad
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_python_api_functions_are_the_library_functions_with_their_signatures():
    """`import lic_bench` stays cheap, and lic_bench.run & co. are api.run & co. (full signature, docs)."""
    code = textwrap.dedent("""
        import inspect, sys
        import lic_bench
        assert not [m for m in ("torch", "pandas", "lic_bench.api") if m in sys.modules]
        from lic_bench import api
        from lic_bench.learned import zoo
        for name in lic_bench.__all__[2:]:
            fn = getattr(lic_bench, name)
            assert fn is getattr(zoo if name == "load_model" else api, name), name
            assert "kwargs" not in str(inspect.signature(fn)) and fn.__doc__, name
        assert set(lic_bench.__all__) <= set(dir(lic_bench))
        try:
            lic_bench.no_such_thing
        except AttributeError as e:
            assert "no_such_thing" in str(e)
        else:
            raise AssertionError("no AttributeError")
        assert "torch" not in sys.modules
        print("ok")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr
