"""A bad adapter hurts only its own requests (issue #11, point 3).

Each fault is a real broken adapter folder on the tiny random model. After the failed
load the same engine must serve the base model exactly as a fresh engine does (same
request, same seed) and a good adapter exactly as before: no peft state may linger.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from generation.adapters import ADAPTER_CONFIG, ADAPTER_WEIGHTS, AdapterRef, adapter_sha256
from generation.engine import Engine, GenerationRequest, SamplingParams, check_adapter_loads
from generation.errors import AdapterError
from generation.prompts import BriefInput
from generation.testing import build_tiny_adapter, build_tiny_model


@pytest.fixture(scope="module")
def other_base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another base model: same architecture family, other sizes."""
    return build_tiny_model(tmp_path_factory.mktemp("other-base"), hidden_size=32, heads=2)


@pytest.fixture(scope="module")
def good_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_adapter(tiny_model_dir, tmp_path_factory.mktemp("good") / "a", seed=3)


def ref(folder: Path) -> AdapterRef:
    return AdapterRef(str(folder), adapter_sha256(folder))


def request(adapter: AdapterRef | None = None, seed: int = 11) -> GenerationRequest:
    return GenerationRequest(
        brief=BriefInput(kind="article", title="Cold brew", instructions="Say why it works."),
        variants=2, adapter=adapter, seed=seed, sampling=SamplingParams(max_new_tokens=12),
    )


def texts(engine: Engine, adapter: AdapterRef | None = None) -> list[str]:
    return [d.text for d in engine.generate([request(adapter)])[0].drafts]


@pytest.fixture(scope="module")
def fresh(tiny_model_dir: Path, good_dir: Path, tmp_path_factory: pytest.TempPathFactory
          ) -> dict[str, list[str]]:
    """What a freshly started engine writes: the base model, and the good adapter."""
    engine = Engine.load(str(tiny_model_dir), tmp_path_factory.mktemp("cache"))
    return {"base": texts(engine), "good": texts(engine, ref(good_dir))}


def _edit_config(folder: Path, **changes: object) -> None:
    config = json.loads((folder / ADAPTER_CONFIG).read_text())
    config.update(changes)
    (folder / ADAPTER_CONFIG).write_text(json.dumps(config))


def _copy(good: Path, tmp: Path) -> Path:
    folder = tmp / "broken"
    shutil.copytree(good, folder)
    return folder


def for_another_base(good: Path, tmp: Path, other_base: Path) -> AdapterRef:
    return ref(build_tiny_adapter(other_base, tmp / "broken"))


def missing_target_modules(good: Path, tmp: Path, other_base: Path) -> AdapterRef:
    folder = _copy(good, tmp)
    _edit_config(folder, target_modules=["query_key_value"])  # a module of another family
    return ref(folder)


def config_and_weights_disagree(good: Path, tmp: Path, other_base: Path) -> AdapterRef:
    folder = _copy(good, tmp)
    _edit_config(folder, target_modules=["q_proj", "k_proj", "v_proj"])
    return ref(folder)


def unknown_peft_type(good: Path, tmp: Path, other_base: Path) -> AdapterRef:
    folder = _copy(good, tmp)
    _edit_config(folder, peft_type="SOMETHING_NEW")
    return ref(folder)


def tampered_weights(good: Path, tmp: Path, other_base: Path) -> AdapterRef:
    folder = _copy(good, tmp)
    recorded = adapter_sha256(folder)
    data = bytearray((folder / ADAPTER_WEIGHTS).read_bytes())
    data[-1] ^= 0xFF
    (folder / ADAPTER_WEIGHTS).write_bytes(bytes(data))
    return AdapterRef(str(folder), recorded)


def missing_weights(good: Path, tmp: Path, other_base: Path) -> AdapterRef:
    folder = _copy(good, tmp)
    recorded = adapter_sha256(folder)
    (folder / ADAPTER_WEIGHTS).unlink()
    return AdapterRef(str(folder), recorded)


def pickle_file(good: Path, tmp: Path, other_base: Path) -> AdapterRef:
    folder = _copy(good, tmp)
    (folder / "adapter_model.bin").write_bytes(b"\x80\x04 a pickle")
    return ref(folder)


def base_weights_inside(good: Path, tmp: Path, other_base: Path) -> AdapterRef:
    """A weights file that also carries a base-model tensor: loaded, it would overwrite the
    shared embeddings for every project."""
    import torch
    from safetensors.torch import load_file, save_file

    folder = _copy(good, tmp)
    tensors = load_file(folder / ADAPTER_WEIGHTS)
    width = next(t for n, t in tensors.items() if "lora_A" in n).shape[1]
    tensors["base_model.model.model.embed_tokens.weight"] = torch.zeros(600, width)
    save_file(tensors, folder / ADAPTER_WEIGHTS)
    return ref(folder)


FAULTS: list[tuple[Callable[[Path, Path, Path], AdapterRef], str]] = [
    (for_another_base, r"adapter_model\.safetensors holds LoRA weights of the wrong shape.*Fix"),
    (missing_target_modules, r"adapter_config\.json names target modules .*another base.*Fix"),
    (config_and_weights_disagree, r"does not match adapter_config\.json: no weights for "
                                  r"model\.layers\.0\.self_attn\.k_proj"),
    (unknown_peft_type, r"not a LoRA adapter \(peft_type 'SOMETHING_NEW'\)"),
    (tampered_weights, r"changed or replaced"),
    (missing_weights, r"has no adapter_model\.safetensors"),
    (pickle_file, r"pickle-based files.*adapter_model\.bin.*Fix"),
    (base_weights_inside, r"not LoRA weights \(base_model\.model\.model\.embed_tokens\.weight\)"
                          r".*overwrite the shared base model"),
]


@pytest.mark.parametrize("with_good_loaded", [True, False], ids=["good-loaded", "alone"])
@pytest.mark.parametrize(("fault", "reason"), FAULTS, ids=[f.__name__ for f, _ in FAULTS])
def test_it_fails_only_the_bad_adapter_and_serves_the_rest_as_a_fresh_engine(
    tiny_model_dir: Path, good_dir: Path, other_base_dir: Path, tmp_path: Path,
    fresh: dict[str, list[str]], fault: Callable[[Path, Path, Path], AdapterRef],
    reason: str, with_good_loaded: bool,
) -> None:
    engine = Engine.load(str(tiny_model_dir), tmp_path / "cache")
    if with_good_loaded:  # the model is peft-wrapped when the bad adapter comes
        assert texts(engine, ref(good_dir)) == fresh["good"]
    bad = fault(good_dir, tmp_path, other_base_dir)

    with pytest.raises(AdapterError, match=reason):
        engine.prepare(request(bad))
    with pytest.raises(AdapterError, match=reason):
        engine.generate([request(bad)])

    assert texts(engine) == fresh["base"]  # same request, same seed: same drafts
    if not with_good_loaded:
        assert engine.adapters.is_plain_base  # nothing of the failed load is left
    assert texts(engine, ref(good_dir)) == fresh["good"]
    assert texts(engine) == fresh["base"]
    assert not engine.broken


def test_it_serves_the_base_model_when_the_adapter_library_itself_fails(
    tiny_model_dir: Path, good_dir: Path, tmp_path: Path, fresh: dict[str, list[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #11: a transformers release whose peft check fails on every adapter call.
    Here the installed transformers is made to demand a peft that does not exist, so its
    own ``check_peft_version`` raises inside set/disable/enable/delete_adapter, as then."""
    import transformers.integrations.peft as transformers_peft

    engine = Engine.load(str(tiny_model_dir), tmp_path / "cache")
    assert texts(engine, ref(good_dir)) == fresh["good"]
    monkeypatch.setattr(transformers_peft, "MIN_PEFT_VERSION", "99.0")

    assert texts(engine) == fresh["base"]  # switching adapters off fails: reset, then base
    assert engine.adapters.is_plain_base
    with pytest.raises(AdapterError, match=r"installed libraries \(torch .*transformers .*peft "
                                           r".*\): ValueError: The version of PEFT"):
        engine.prepare(request(ref(good_dir)))
    assert engine.adapters.is_plain_base  # the half-added adapter was unwrapped
    assert texts(engine) == fresh["base"]

    monkeypatch.undo()  # the lock is fixed: the same engine loads adapters again
    assert texts(engine, ref(good_dir)) == fresh["good"]
    assert texts(engine) == fresh["base"]


def test_it_checks_an_adapter_by_writing_a_few_tokens_with_it(
    tiny_model_dir: Path, good_dir: Path, other_base_dir: Path, tmp_path: Path,
    fresh: dict[str, list[str]],
) -> None:
    engine = Engine.load(str(tiny_model_dir), tmp_path / "cache")
    good = engine.check_adapter(ref(good_dir))
    assert good.ok and good.error == ""
    assert good.sample.strip()
    assert set(good.libraries) == {"torch", "transformers", "peft"}

    bad = engine.check_adapter(for_another_base(good_dir, tmp_path, other_base_dir))
    assert not bad.ok and bad.sample == ""
    assert "wrong shape" in bad.error and "Fix" in bad.error
    assert texts(engine) == fresh["base"]
    assert texts(engine, ref(good_dir)) == fresh["good"]


def test_it_fails_the_check_of_an_adapter_whose_weights_are_not_finite(
    tiny_model_dir: Path, good_dir: Path, tmp_path: Path, fresh: dict[str, list[str]],
) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    folder = _copy(good_dir, tmp_path)
    tensors = load_file(folder / ADAPTER_WEIGHTS)
    name = next(n for n in tensors if "lora_B" in n)
    tensors[name] = torch.full_like(tensors[name], float("nan"))  # a diverged training run
    save_file(tensors, folder / ADAPTER_WEIGHTS)

    check = check_adapter_loads(str(tiny_model_dir), tmp_path / "cache", ref(folder))
    assert not check.ok
    assert "NaN or infinite" in check.error and "retrain" in check.error
    assert check_adapter_loads(str(tiny_model_dir), tmp_path / "cache", ref(good_dir)).ok
