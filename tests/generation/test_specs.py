from __future__ import annotations

import pytest

from generation.errors import ModelSpecError
from generation.specs import DEFAULT_MODEL_SPEC, ModelSpec, parse_model_spec


def test_it_defaults_to_the_bundled_model():
    assert parse_model_spec(None) == ModelSpec("bundled", "smollm2-135m-instruct")
    assert parse_model_spec("") == parse_model_spec(DEFAULT_MODEL_SPEC)


def test_it_parses_local_folders():
    assert parse_model_spec("/models/x") == ModelSpec("local", "/models/x")
    assert parse_model_spec("local:/models/x") == ModelSpec("local", "/models/x")
    assert parse_model_spec("./x").source == "local"


def test_it_parses_pinned_hf_ids():
    spec = parse_model_spec("hf:Qwen/Qwen2.5-0.5B-Instruct@7ae5")
    assert spec == ModelSpec("hf", "Qwen/Qwen2.5-0.5B-Instruct", "7ae5")
    assert str(spec) == "hf:Qwen/Qwen2.5-0.5B-Instruct@7ae5"
    assert parse_model_spec(str(spec)) == spec


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bundled:gpt-9", "unknown bundled model"),
        ("hf:Qwen/Qwen2.5-0.5B-Instruct", "pinned revision"),
        ("hf:not-an-id@main", "bad Hugging Face model id"),
        ("hf:a/b@../../etc", "bad revision"),
        ("Qwen/Qwen2.5-0.5B-Instruct", "ambiguous"),
        ("s3://bucket/model", "unknown model spec"),
        ("local:", "no path"),
    ],
)
def test_it_rejects_bad_specs(text, message):
    with pytest.raises(ModelSpecError, match=message):
        parse_model_spec(text)
