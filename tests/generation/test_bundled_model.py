"""The real bundled SmolLM2 model, small budgets so the whole file runs in CI."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from generation import models
from generation.checks import BANNED_TERM, NEAR_COPY
from generation.engine import Engine, GenerationRequest, SamplingParams
from generation.prompts import KINDS, BriefInput, ProjectVoice

pytestmark = pytest.mark.slow

EXTRAS = {
    "ad_copy": {"product": "Night Owl coffee beans", "call_to_action": "Order today"},
    "outline": {"chapters": 3},
    "faq": {"questions": 2},
    "email": {"subject_hint": "Your first order"},
}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def converted(cache_dir):
    started = time.monotonic()
    path = models.resolve_model_dir("bundled:smollm2-135m-instruct", cache_dir)
    return path, time.monotonic() - started


@pytest.fixture(scope="module")
def engine(converted, cache_dir):
    return Engine.load(None, cache_dir)


def test_it_converts_the_bundled_gguf_once_into_safetensors(converted, cache_dir):
    path, _ = converted
    assert (path / "model.safetensors").is_file() and (path / "config.json").is_file()
    assert (path / "tokenizer.json").is_file()
    assert not list(path.parent.glob(".tmp-*"))  # the temp folder was renamed, not left
    started = time.monotonic()
    assert models.resolve_model_dir(None, cache_dir) == path
    assert time.monotonic() - started < 1  # no second conversion


def test_it_loads_the_converted_folder_fast_with_the_gguf_logits(converted, cache_dir):
    import torch
    from transformers import AutoModelForCausalLM

    path, _ = converted
    started = time.monotonic()
    # float32 on the CPU: the GGUF's dequantised weights, compared bit for bit (a GPU
    # would pick bfloat16, whose logits differ by rounding).
    base = models.load_base(None, cache_dir, device="cpu", dtype="float32")
    assert time.monotonic() - started < 15
    assert base.model_dir == path and base.context_window == 8192
    gguf = models.bundled_gguf_path(models.BUNDLED_MODELS["smollm2-135m-instruct"])
    original = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                    dtype=torch.float32)
    ids = base.tokenizer("Write a short note about coffee.", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.equal(original(ids).logits, base.model(ids).logits)


def brief(kind: str, **kw) -> BriefInput:
    values = dict(
        kind=kind, title="Coffee for busy parents", audience="parents", tone="warm",
        keywords=("coffee",), target_words=30, extra=EXTRAS.get(kind, {}),
        source_text=("Coffee is brewed from roasted beans. Many parents drink it in the "
                     "morning to stay alert.") if kind == "summary" else "",
    )
    values.update(kw)
    return BriefInput(**values)


SMALL = SamplingParams(max_new_tokens=16)


def test_it_writes_drafts_for_every_kind_in_one_batch_reproducibly(engine):
    requests = [GenerationRequest(brief(kind), variants=2, seed=i, sampling=SMALL)
                for i, kind in enumerate(sorted(KINDS))]
    progress = []
    before = engine.batches_run
    results = engine.generate(requests, progress=lambda d, t: progress.append((d, t)))
    assert progress[-1] == (16, 16)
    # CPU float32: one batch (+ one if a variant was redone); GPU: per request.
    assert engine.batches_run - before <= (2 if engine.mix_requests else 16)
    for request, result in zip(requests, results, strict=True):
        assert len(result.drafts) == request.variants
        for draft in result.drafts:
            assert draft.text.strip(), (request.brief.kind, draft)
            assert 0 < draft.completion_tokens <= 16
    # Same request and seed alone reproduces the draft made inside the big batch.
    again = engine.generate([requests[3]])[0]
    assert [d.text for d in again.drafts] == [d.text for d in results[3].drafts]


def test_it_flags_a_banned_term_the_brief_makes_the_model_write(engine):
    request = GenerationRequest(
        brief("social_post", title="Coffee", keywords=("coffee",),
              instructions="Mention coffee in the first sentence."),
        ProjectVoice(banned_terms=("coffee",)), variants=3, seed=3,
        # Room for a whole first sentence: a draft cut at its cap keeps whole sentences.
        sampling=SamplingParams(max_new_tokens=48),
    )
    [result] = engine.generate([request])
    flagged = [d for d in result.drafts if BANNED_TERM in [f.code for f in d.flags]]
    assert flagged
    for draft in result.drafts:
        has_term = "coffee" in draft.text.lower()
        spans = [f.span for f in draft.flags if f.code == BANNED_TERM]
        assert bool(spans) == has_term
        assert all(draft.text[s:e].lower() == "coffee" for s, e in spans)


def test_it_flags_a_draft_that_copies_the_reference_corpus(engine):
    # Enough tokens that the draft, trimmed to its last sentence, is a near-copy's length.
    request = GenerationRequest(brief("article"), variants=1, seed=5,
                                sampling=SamplingParams(max_new_tokens=64))
    [first] = engine.generate([request])
    text = first.drafts[0].text
    assert NEAR_COPY not in [f.code for f in first.drafts[0].flags]
    [second] = engine.generate([replace(request, reference_corpus=("Unrelated.", text))])
    assert second.drafts[0].text == text
    flag = next(f for f in second.drafts[0].flags if f.code == NEAR_COPY)
    assert flag.span is not None and flag.span[1] - flag.span[0] > 40


def test_drafts_end_at_a_sentence_near_the_target_length(engine):
    from generation.checks import SHORTENED, TRUNCATED
    from generation.prompts import max_new_tokens_for, target_tokens_for

    # The budget comes from the brief (no max_new_tokens): the engine stops each row at
    # the first sentence end after the target, and trims a row that reaches its cap.
    requests = [GenerationRequest(brief("ad_copy", target_words=25), variants=3, seed=7),
                GenerationRequest(brief("social_post", target_words=20), variants=2, seed=8)]
    for request, result in zip(requests, engine.generate(requests), strict=True):
        words = request.brief.target_words
        for draft in result.drafts:
            codes = {f.code for f in draft.flags}
            # The model ended it, or the engine stopped it at a sentence end, or it was
            # trimmed back to one: never left cut.
            assert TRUNCATED not in codes, draft.text
            assert draft.finish_reason == "eos" or SHORTENED in codes, draft
            assert target_tokens_for(words) // 3 <= draft.completion_tokens
            assert draft.completion_tokens <= max_new_tokens_for(words)
