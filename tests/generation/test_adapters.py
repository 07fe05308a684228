from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from generation import adapters
from generation.adapters import (
    ADAPTER_CONFIG,
    ADAPTER_WEIGHTS,
    AdapterCache,
    AdapterRef,
    adapter_sha256,
    adapter_sha256_upgrade,
    read_verified_adapter,
    verify_adapter_sha256,
)
from generation.errors import AdapterChecksumError, AdapterError
from generation.testing import build_tiny_adapter


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir, tmp_path_factory) -> Path:
    return build_tiny_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter") / "a")


@pytest.fixture
def copy(adapter_dir, tmp_path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(adapter_dir, folder)
    return folder


@pytest.fixture(scope="module")
def token_ids(tiny_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    return tokenizer("the coffee is bold and short", return_tensors="pt").input_ids


def set_lora_alpha(folder: Path, alpha: int) -> None:
    config = json.loads((folder / ADAPTER_CONFIG).read_text())
    config["lora_alpha"] = alpha
    (folder / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2))


def logits_via_cache(base_dir: Path, ref: AdapterRef, ids):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base_dir)
    cache = AdapterCache(model)
    with cache.active(ref), torch.no_grad():
        return model(ids).logits


def logits_via_peft(base_dir: Path, folder: Path, ids):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_dir), folder)
    with torch.no_grad():
        return model(ids).logits


def test_it_hashes_the_same_files_the_same_in_any_folder(adapter_dir, copy, tmp_path):
    elsewhere = tmp_path / "deeper" / "path" / "other-name"
    shutil.copytree(adapter_dir, elsewhere)
    assert adapter_sha256(adapter_dir) == adapter_sha256(copy) == adapter_sha256(elsewhere)
    assert adapter_sha256(str(copy)) == adapter_sha256(copy)
    assert len(adapter_sha256(copy)) == 64  # fits ModelVersion.adapter_sha256


def test_it_covers_the_config_as_well_as_the_weights(copy):
    weights_only = hashlib.sha256((copy / ADAPTER_WEIGHTS).read_bytes()).hexdigest()
    before = adapter_sha256(copy)
    assert before != weights_only
    set_lora_alpha(copy, 64)
    assert adapter_sha256(copy) != before


def test_it_frames_the_files_so_bytes_cannot_move_between_them(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for folder, config, weights in ((one, b"{}", b"xyz"), (two, b"{}x", b"yz")):
        folder.mkdir()
        (folder / ADAPTER_CONFIG).write_bytes(config)
        (folder / ADAPTER_WEIGHTS).write_bytes(weights)
    assert adapter_sha256(one) != adapter_sha256(two)


def test_it_names_a_missing_config_or_weights_file(copy):
    (copy / ADAPTER_CONFIG).unlink()
    with pytest.raises(AdapterError, match=f"no {ADAPTER_CONFIG}"):
        adapter_sha256(copy)
    (copy / ADAPTER_WEIGHTS).unlink()
    (copy / ADAPTER_CONFIG).write_text("{}")
    with pytest.raises(AdapterError, match=f"no {ADAPTER_WEIGHTS}"):
        adapter_sha256(copy)


def test_it_refuses_a_config_changed_after_recording(copy):
    recorded = adapter_sha256(copy)
    set_lora_alpha(copy, 64)
    with pytest.raises(AdapterChecksumError, match="expected " + recorded):
        read_verified_adapter(AdapterRef(str(copy), recorded))
    with pytest.raises(AdapterChecksumError, match="changed or replaced"):
        verify_adapter_sha256(copy, recorded)


def test_it_refuses_a_config_changed_after_recording_when_loading_into_a_model(
    tiny_model_dir, copy, token_ids
):
    recorded = adapter_sha256(copy)
    set_lora_alpha(copy, 64)
    with pytest.raises(AdapterChecksumError, match="expected " + recorded):
        logits_via_cache(tiny_model_dir, AdapterRef(str(copy), recorded), token_ids)


def test_it_refuses_weights_changed_after_recording(copy):
    recorded = adapter_sha256(copy)
    data = bytearray((copy / ADAPTER_WEIGHTS).read_bytes())
    data[-1] ^= 0xFF
    (copy / ADAPTER_WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(AdapterChecksumError, match="expected " + recorded):
        read_verified_adapter(AdapterRef(str(copy), recorded))


def test_it_loads_the_adapter_exactly_as_peft_does(tiny_model_dir, adapter_dir, copy,
                                                   token_ids):
    import torch
    from transformers import AutoModelForCausalLM

    loaded = logits_via_cache(tiny_model_dir, AdapterRef(str(copy), adapter_sha256(copy)),
                              token_ids)
    assert torch.equal(loaded, logits_via_peft(tiny_model_dir, adapter_dir, token_ids))
    with torch.no_grad():
        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)(token_ids).logits
    assert not torch.equal(loaded, base)
    # What the refused config change would have done: different outputs.
    set_lora_alpha(copy, 64)
    assert not torch.equal(loaded, logits_via_peft(tiny_model_dir, copy, token_ids))


def test_it_builds_the_config_from_the_bytes_it_hashed(copy, monkeypatch):
    recorded = adapter_sha256(copy)
    real_read = adapters._read_files

    def read_then_swap(folder):
        files = real_read(folder)
        set_lora_alpha(folder, 64)  # swapped on disk right after the verified read
        return files

    monkeypatch.setattr(adapters, "_read_files", read_then_swap)
    config, state_dict = read_verified_adapter(AdapterRef(str(copy), recorded))
    assert config.lora_alpha == 8 and config.r == 4
    assert set(config.target_modules) == {"q_proj", "v_proj"}
    assert state_dict


def test_it_refuses_a_legacy_weights_only_record_saying_what_to_do(copy):
    legacy = hashlib.sha256((copy / ADAPTER_WEIGHTS).read_bytes()).hexdigest()
    with pytest.raises(AdapterChecksumError, match="legacy checksum") as exc:
        read_verified_adapter(AdapterRef(str(copy), legacy))
    assert "Retrain the project" in str(exc.value)
    assert "adapter_sha256_upgrade" in str(exc.value)
    with pytest.raises(AdapterChecksumError, match="legacy checksum"):
        verify_adapter_sha256(copy, legacy.upper())


def test_it_upgrades_a_legacy_record_only_while_the_weights_match(copy):
    legacy = hashlib.sha256((copy / ADAPTER_WEIGHTS).read_bytes()).hexdigest()
    upgraded = adapter_sha256_upgrade(copy, legacy)
    assert upgraded == adapter_sha256(copy)
    assert adapter_sha256_upgrade(copy, upgraded) == upgraded  # safe to run twice
    read_verified_adapter(AdapterRef(str(copy), upgraded))
    (copy / ADAPTER_WEIGHTS).write_bytes(b"other weights")
    with pytest.raises(AdapterChecksumError, match="not upgraded"):
        adapter_sha256_upgrade(copy, legacy)


def test_it_refuses_an_adapter_that_is_not_lora(copy):
    config = json.loads((copy / ADAPTER_CONFIG).read_text())
    config["peft_type"] = "IA3"
    (copy / ADAPTER_CONFIG).write_text(json.dumps(config))
    with pytest.raises(AdapterError, match="not a LoRA adapter"):
        read_verified_adapter(AdapterRef(str(copy), adapter_sha256(copy)))
