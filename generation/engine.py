"""Batched generation on one loaded base model with per-project LoRA adapters.

Usage (one Engine per worker process)::

    engine = Engine.load("bundled:smollm2-135m-instruct", cache_dir)
    results = engine.generate([GenerationRequest(brief, voice, variants=3, seed=7)],
                              progress=lambda done, total: ...)

Reproducibility: every draft row (request, variant) samples on the CPU with its own
``torch.Generator`` seeded from (request seed, variant, attempt), and the sampling
step orders candidate tokens by token id, so a draft depends only on its own request,
seed and variant, not on what else shares its batch:

- CPU, float32 (the default here): requests are mixed in batches. Batched matrix
  products round differently from a batch of one by ~1e-6, which changes a token only
  if a random draw lands that close to a boundary; the same request and seed give the
  same text alone or in any batch (tests assert it).
- GPU or bfloat16/float16: rounding differences are large enough to change tokens, so
  each request is batched on its own (``mix_requests=False``); the same request (same
  brief, voice, examples, variants, sampling, seed, adapter) gives the same drafts on
  the same hardware and library versions. Changing the number of variants changes the
  batch and may change the drafts.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from generation.adapters import AdapterCache, AdapterRef, library_versions
from generation.checks import (
    NEAR_IDENTICAL,
    SHORTENED,
    QualityFlag,
    ReferenceCorpus,
    check_draft,
    near_identical_pairs,
)
from generation.endings import sentence_end_ids, trim_to_sentence
from generation.errors import AdapterError, EngineStateError, GenerationError, RequestError
from generation.models import BaseModel, load_base
from generation.prompts import (
    BriefInput,
    BuiltPrompt,
    FewShotExample,
    ProjectVoice,
    build_prompt,
    max_new_tokens_for,
    target_tokens_for,
    words_for_tokens,
)
from generation.specs import ModelSpec

MAX_VARIANTS = 16
MAX_NEW_TOKENS_CAP = 4096
# Tokens a load check writes: enough to run the adapter through generate, cheap enough
# to run before every promotion.
CHECK_TOKENS = 4

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings of one request. ``temperature=0`` means greedy decoding.

    ``max_new_tokens=None`` derives the budget from the brief's target length.
    """

    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 50
    repetition_penalty: float = 1.1
    max_new_tokens: int | None = None
    min_new_tokens: int = 0

    def validate(self) -> None:
        """Raise RequestError naming the first bad value."""
        if not 0 <= self.temperature <= 5:
            raise RequestError(f"temperature must be 0..5, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise RequestError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise RequestError(f"top_k must be >= 0 (0 = off), got {self.top_k}")
        if not 0.5 <= self.repetition_penalty <= 3:
            raise RequestError(f"repetition_penalty must be 0.5..3, got {self.repetition_penalty}")
        if self.max_new_tokens is not None and not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS_CAP:
            raise RequestError(
                f"max_new_tokens must be 1..{MAX_NEW_TOKENS_CAP}, got {self.max_new_tokens}"
            )
        if self.min_new_tokens < 0 or (
            self.max_new_tokens is not None and self.min_new_tokens > self.max_new_tokens
        ):
            raise RequestError(f"min_new_tokens must be 0..max_new_tokens, got {self.min_new_tokens}")


@dataclass(frozen=True)
class GenerationRequest:
    """One brief to write ``variants`` drafts for, with its project's voice, examples,
    adapter (None = base model), sampling settings, seed and reference corpus."""

    brief: BriefInput
    voice: ProjectVoice = field(default_factory=ProjectVoice)
    examples: tuple[FewShotExample, ...] = ()
    variants: int = 1
    adapter: AdapterRef | None = None
    sampling: SamplingParams = field(default_factory=SamplingParams)
    seed: int = 0
    reference_corpus: tuple[str, ...] = ()
    # Passages of the project's knowledge retrieved for this brief: they go into the
    # prompt, and a claim in a draft is supported when they (or the brief) state it.
    knowledge: tuple[str, ...] = ()
    request_id: str = ""


@dataclass
class DraftOutput:
    """One generated variant with its checks."""

    variant: int
    text: str
    seed: int  # the seed this variant actually sampled with (after a regeneration)
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "eos" or "length"
    flags: list[QualityFlag]
    regenerated: bool
    generate_seconds: float


@dataclass
class GenerationResult:
    """Everything about one request: the exact prompt, settings, drafts and timings."""

    request_id: str
    model: str
    adapter_sha256: str | None
    prompt: str
    prompt_tokens: int
    examples_used: int
    source_trimmed: bool
    sampling: SamplingParams  # with max_new_tokens filled in
    seed: int
    drafts: list[DraftOutput]
    timings: dict[str, float]
    # How many of ``request.knowledge`` (best first) the prompt holds; the rest did not
    # fit the context window.
    knowledge_used: int = 0


@dataclass(frozen=True)
class AdapterCheck:
    """Outcome of :meth:`Engine.check_adapter`: whether the serving path loads the
    adapter and writes with it, why not, and what it wrote."""

    ok: bool
    error: str  # "" when ok: the reason otherwise (names the file and the fix when known)
    sample: str  # the few tokens written (decoded), "" when it failed
    seconds: float
    libraries: dict[str, str]  # torch / transformers / peft versions that did the check
    base_model: str


def variant_seed(seed: int, variant: int, attempt: int = 0) -> int:
    """Seed of one draft row, derived so neighbouring seeds do not correlate."""
    digest = hashlib.sha256(f"{seed}:{variant}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & (2**63 - 1)


@dataclass
class _Row:
    request_index: int
    variant: int
    attempt: int
    seed: int
    prompt_ids: list[int]
    max_new: int
    min_new: int
    sampling: SamplingParams
    adapter: AdapterRef | None
    # After this many tokens the row stops at the next sentence end; None: no soft stop.
    stop_after: int | None = None
    # filled by generation
    tokens: list[int] = field(default_factory=list)
    finish_reason: str = ""
    shortened: bool = False
    seconds: float = 0.0


class Engine:
    """A loaded base model plus an LRU of adapters; generates drafts in batches."""

    def __init__(
        self,
        base: BaseModel,
        *,
        max_adapters: int = 4,
        max_batch_tokens: int = 32768,
        max_batch_rows: int = 32,
        similarity_threshold: float = 0.8,
        mix_requests: bool | None = None,
    ) -> None:
        self.base = base
        # Whether rows of different requests may share a batch. In float32 on the CPU a
        # row's numbers do not depend on its batch neighbours (beyond ~1e-6, which the
        # sampler absorbs); in bfloat16/float16 or on a GPU they do enough to change
        # tokens, so there each request gets batches of its own and stays reproducible.
        if mix_requests is None:
            mix_requests = base.device == "cpu" and base.dtype == "float32"
        self.mix_requests = mix_requests
        self.adapters = AdapterCache(base.model, capacity=max_adapters)
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_rows = max_batch_rows
        self.similarity_threshold = similarity_threshold
        self.batches_run = 0  # model.generate calls, for tests and logs
        self._sentence_tokens: _SentenceTokens | None = None

    @classmethod
    def load(
        cls,
        spec: str | ModelSpec | None,
        cache_dir: str | Path,
        *,
        device: str | None = None,
        dtype: str | None = None,
        max_context: int | None = None,
        **options: Any,
    ) -> Engine:
        """Load the base model named by ``spec`` and wrap it in an Engine."""
        return cls(load_base(spec, cache_dir, device=device, dtype=dtype,
                             max_context=max_context), **options)

    @property
    def broken(self) -> str:
        """Why this engine must not be used again ("" while it is sound): its base
        model could not be restored after an adapter failed. Load a new engine."""
        return self.adapters.broken

    def check_adapter(self, ref: AdapterRef, *, max_new_tokens: int = CHECK_TOKENS) -> AdapterCheck:
        """Load ``ref`` the way generation requests do and write a few tokens with it.

        The check a version must pass before it goes live: the adapter is verified
        (sha256, no pickles, LoRA tensors only), loaded into this engine's base model,
        switched on, run over a short prompt (its logits must be finite: a diverged
        training run gives NaN) and made to write ``max_new_tokens`` tokens. A failure
        leaves the engine's base model clean (see :class:`AdapterCache`) and comes back
        as ``ok=False`` with the reason; nothing is raised for the adapter's faults.
        """
        started = time.monotonic()
        request = GenerationRequest(
            brief=BriefInput(kind="article", title="Load check",
                             instructions="Write one short sentence about coffee."),
            adapter=ref,
            sampling=SamplingParams(temperature=0, max_new_tokens=max_new_tokens,
                                    min_new_tokens=max_new_tokens),
            request_id="load-check",
        )

        def outcome(error: str, sample: str = "") -> AdapterCheck:
            return AdapterCheck(ok=not error, error=error, sample=sample,
                                seconds=time.monotonic() - started,
                                libraries=library_versions(), base_model=str(self.base.spec))

        try:
            self.prepare(request)
            self._check_finite(request)
            result = self.generate([request])[0]
        except GenerationError as exc:
            return outcome(str(exc))
        except Exception as exc:  # noqa: BLE001 - a library fault is the check's answer
            with contextlib.suppress(EngineStateError):  # kept in self.broken
                self.adapters.reset()
            return outcome(f"writing with adapter {ref.path} failed: {type(exc).__name__}: {exc}")
        draft = result.drafts[0]
        if draft.completion_tokens < 1:
            return outcome(f"adapter {ref.path} loaded but wrote nothing")
        return outcome("", draft.text)

    def _check_finite(self, request: GenerationRequest) -> None:
        import torch

        prompt = self.build_prompt(request)
        ids = self.base.tokenizer(prompt.text, return_tensors="pt",
                                  add_special_tokens=False).input_ids.to(self.base.device)
        with self.adapters.active(request.adapter), torch.inference_mode():
            logits = self.base.model(input_ids=ids, logits_to_keep=1).logits
        if not bool(torch.isfinite(logits).all()):
            assert request.adapter is not None
            raise AdapterError(
                f"adapter {request.adapter.path} makes the model output NaN or infinite "
                "values (its weights are not finite: a diverged training run?). Fix: "
                "retrain the project, e.g. with a lower learning rate"
            )

    def build_prompt(self, request: GenerationRequest) -> BuiltPrompt:
        """The prompt a request would use (validates the request too)."""
        self._validate(request)
        brief = request.brief
        max_new = self._max_new(request)
        if max_new < max_new_tokens_for(brief.target_words):
            # Capped budget: ask for the length the budget can hold, not a longer piece
            # that would be cut off mid-sentence.
            brief = replace(brief, target_words=words_for_tokens(max_new))
        return build_prompt(
            brief, request.voice, self.base.tokenizer,
            context_window=self.base.context_window,
            max_new_tokens=max_new, examples=request.examples,
            knowledge=request.knowledge,
        )

    def prepare(self, request: GenerationRequest) -> BuiltPrompt:
        """Check one request on its own: its fields, its prompt and its adapter (sha256,
        no pickles, fits the base model, can be switched on), loading the adapter. A bad
        adapter is taken out again, so the engine goes on serving the base model and
        other adapters.

        A caller batching requests from different owners checks each one first, so a bad
        request is refused alone, with an error about it only, instead of failing the
        whole batch in :meth:`generate`. Raises RequestError, PromptError or AdapterError.
        """
        prompt = self.build_prompt(request)
        if request.adapter is not None:
            self.adapters.ensure_loaded(request.adapter)
        return prompt

    def generate(
        self, requests: Sequence[GenerationRequest], progress: ProgressCallback | None = None
    ) -> list[GenerationResult]:
        """Generate every variant of every request in as few batches as the caps allow.

        Results come back in request order. ``progress(done, total)`` is called after
        each batch with the number of drafts finished. Raises RequestError, PromptError
        or AdapterError before any generation starts when an input is bad.
        """
        started = time.monotonic()
        prompts = [self.build_prompt(r) for r in requests]
        prompt_s = time.monotonic() - started
        adapter_started = time.monotonic()
        for ref in {r.adapter for r in requests if r.adapter is not None}:
            # Verify every adapter before generating anything (sha, pickles, fit).
            self.adapters.ensure_loaded(ref)
        adapter_s = time.monotonic() - adapter_started
        tokenizer = self.base.tokenizer
        rows: list[_Row] = []
        for i, (request, prompt) in enumerate(zip(requests, prompts, strict=True)):
            ids = tokenizer(prompt.text, add_special_tokens=False).input_ids
            for v in range(request.variants):
                rows.append(self._row(i, v, 0, request, ids, prompt.max_new_tokens))
        total = len(rows)
        done = 0

        def report(n: int) -> None:
            nonlocal done
            done += n
            if progress is not None:
                progress(done, total)

        generate_started = time.monotonic()
        self._run_rows(rows, report)
        texts = [self._decode(row) for row in rows]

        # Near-identical variants: regenerate the later one once with a new seed.
        by_request: dict[int, list[int]] = {}
        for k, row in enumerate(rows):
            by_request.setdefault(row.request_index, []).append(k)
        redo: list[int] = []
        for ks in by_request.values():
            pairs = near_identical_pairs([texts[k] for k in ks], self.similarity_threshold)
            redo += sorted({ks[j] for _, j in pairs})
        if redo:
            retry = [
                self._row(rows[k].request_index, rows[k].variant, 1,
                          requests[rows[k].request_index], rows[k].prompt_ids,
                          prompts[rows[k].request_index].max_new_tokens)
                for k in redo
            ]
            self._run_rows(retry, lambda n: None)
            for k, row in zip(redo, retry, strict=True):
                rows[k] = row
                texts[k] = self._decode(row)
        generate_s = time.monotonic() - generate_started

        results = []
        for i, (request, prompt) in enumerate(zip(requests, prompts, strict=True)):
            checks_started = time.monotonic()
            ks = by_request.get(i, [])
            corpus = ReferenceCorpus(request.reference_corpus) if request.reference_corpus else None
            similar = near_identical_pairs([texts[k] for k in ks], self.similarity_threshold)
            drafts = []
            for pos, k in enumerate(ks):
                row = rows[k]
                flags = check_draft(
                    # A shortened draft ends a sentence or a line: not left cut.
                    texts[k], finish_reason="eos" if row.shortened else row.finish_reason,
                    banned_terms=request.voice.banned_terms,
                    must_not=request.voice.must_not, corpus=corpus,
                )
                if row.shortened:
                    flags.append(QualityFlag(
                        SHORTENED, "reached the length limit: cut after its last complete "
                        "sentence"))
                twins = [a for a, b in similar if b == pos]
                if twins:
                    flags.append(QualityFlag(
                        NEAR_IDENTICAL,
                        f"near-identical to variant {rows[ks[twins[0]]].variant} even after "
                        "regenerating with a new seed",
                    ))
                drafts.append(DraftOutput(
                    variant=row.variant, text=texts[k], seed=row.seed,
                    prompt_tokens=len(row.prompt_ids), completion_tokens=len(row.tokens),
                    finish_reason=row.finish_reason, flags=flags,
                    regenerated=row.attempt > 0, generate_seconds=row.seconds,
                ))
            results.append(GenerationResult(
                request_id=request.request_id,
                model=str(self.base.spec),
                adapter_sha256=request.adapter.sha256 if request.adapter else None,
                prompt=prompt.text,
                prompt_tokens=prompt.token_count,
                examples_used=prompt.examples_used,
                source_trimmed=prompt.source_trimmed,
                sampling=replace(request.sampling, max_new_tokens=prompt.max_new_tokens),
                seed=request.seed,
                drafts=drafts,
                knowledge_used=prompt.knowledge_used,
                timings={
                    "prompt_s": prompt_s, "adapter_s": adapter_s, "generate_s": generate_s,
                    "checks_s": time.monotonic() - checks_started,
                    "total_s": time.monotonic() - started,
                },
            ))
        return results

    # -- internals -----------------------------------------------------------------

    def _validate(self, request: GenerationRequest) -> None:
        if not isinstance(request.variants, int) or not 1 <= request.variants <= MAX_VARIANTS:
            raise RequestError(
                f"variants must be 1..{MAX_VARIANTS}, got {request.variants!r}"
            )
        request.sampling.validate()

    def _max_new(self, request: GenerationRequest) -> int:
        if request.sampling.max_new_tokens is not None:
            return request.sampling.max_new_tokens
        return max_new_tokens_for(request.brief.target_words, cap=MAX_NEW_TOKENS_CAP)

    def _row(self, i: int, v: int, attempt: int, request: GenerationRequest,
             ids: list[int], max_new: int) -> _Row:
        stop_after = None
        if request.sampling.max_new_tokens is None:
            # A budget derived from the brief: stop at the first sentence end once the
            # target length is written (the cap leaves room to finish that sentence).
            words = min(request.brief.target_words, words_for_tokens(max_new))
            stop_after = min(target_tokens_for(words), max_new)
        return _Row(
            request_index=i, variant=v, attempt=attempt,
            seed=variant_seed(request.seed, v, attempt), prompt_ids=list(ids),
            max_new=max_new, min_new=min(request.sampling.min_new_tokens, max_new),
            sampling=request.sampling, adapter=request.adapter, stop_after=stop_after,
        )

    def _sentence_ends(self) -> _SentenceTokens:
        if self._sentence_tokens is None:
            self._sentence_tokens = _SentenceTokens.of(self.base.tokenizer)
        return self._sentence_tokens

    def _decode(self, row: _Row) -> str:
        """The row's text; cut after its last complete sentence when it hit its cap
        mid-sentence (``row.shortened``)."""
        text = str(self.base.tokenizer.decode(row.tokens, skip_special_tokens=True)).strip()
        if row.finish_reason == "length":
            text, row.shortened = trim_to_sentence(text)
        return text

    def _batches(self, rows: list[_Row]) -> list[list[_Row]]:
        """Group rows by adapter, sort by prompt length (less padding) and cut into
        batches under the row and token caps."""
        groups: dict[tuple[str, int], list[_Row]] = {}
        for row in rows:
            key = (row.adapter.key if row.adapter else "",
                   -1 if self.mix_requests else row.request_index)
            groups.setdefault(key, []).append(row)
        batches: list[list[_Row]] = []
        for group in groups.values():
            group.sort(key=lambda r: len(r.prompt_ids))
            current: list[_Row] = []
            for row in group:
                candidate = current + [row]
                width = max(len(r.prompt_ids) for r in candidate) + max(r.max_new for r in candidate)
                if current and (len(candidate) > self.max_batch_rows
                                or len(candidate) * width > self.max_batch_tokens):
                    batches.append(current)
                    candidate = [row]
                current = candidate
            if current:
                batches.append(current)
        return batches

    def _run_rows(self, rows: list[_Row], report: Callable[[int], None]) -> None:
        for batch in self._batches(rows):
            with self.adapters.active(batch[0].adapter):
                self._generate_batch(batch)
            report(len(batch))

    def _generate_batch(self, rows: list[_Row]) -> None:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        tokenizer, model = self.base.tokenizer, self.base.model
        pad_id = int(tokenizer.pad_token_id)
        eos_ids = _eos_ids(model, tokenizer)
        width = max(len(r.prompt_ids) for r in rows)
        input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            # Left padding: every row's last prompt token sits at the same position.
            input_ids[i, width - len(row.prompt_ids):] = torch.tensor(row.prompt_ids)
            attention[i, width - len(row.prompt_ids):] = 1
        sampler = _RowSampler(rows, width, eos_ids, self._sentence_ends())
        config = GenerationConfig(
            max_new_tokens=max(r.max_new for r in rows) + 1,  # +1: room for a forced eos
            do_sample=False, eos_token_id=eos_ids, pad_token_id=pad_id,
        )
        device = self.base.device
        started = time.monotonic()
        with torch.inference_mode():
            cache = self._shared_prefill(rows, input_ids, attention) if width > 1 else None
            out = model.generate(
                input_ids=input_ids.to(device),
                attention_mask=attention.to(device),
                past_key_values=cache,
                generation_config=config,
                logits_processor=LogitsProcessorList([sampler]),
            )
        seconds = time.monotonic() - started
        self.batches_run += 1
        new = out[:, width:].tolist()
        for row, tokens in zip(rows, new, strict=True):
            cut = next((k for k, t in enumerate(tokens) if t in eos_ids), len(tokens))
            row.tokens = tokens[:cut]
            row.finish_reason = "length" if cut >= row.max_new else "eos"
            row.seconds = seconds


    def _shared_prefill(self, rows: list[_Row], input_ids: Any, attention: Any) -> Any:
        """Run the prompts (all but their last token) once per distinct prompt and copy
        the KV cache to every row that shares it.

        Variants of one brief share their prompt, so its prefill is computed once instead
        of once per variant. Every batch takes this path (even without sharing) so that a
        row's numbers are computed the same way whatever else is in the batch.
        """
        import torch

        unique: dict[tuple[int, ...], int] = {}
        owner = [unique.setdefault(tuple(r.prompt_ids), len(unique)) for r in rows]
        first = [owner.index(u) for u in range(len(unique))]
        ids = input_ids[first, :-1].to(self.base.device)
        mask = attention[first, :-1].to(self.base.device)
        # The positions generate() would use with left padding.
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)
        out = self.base.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                              use_cache=True, logits_to_keep=1)
        cache = out.past_key_values
        if len(unique) < len(rows):
            cache.reorder_cache(torch.tensor(owner, device=self.base.device))
        return cache


def check_adapter_loads(
    spec: str | ModelSpec | None,
    cache_dir: str | Path,
    ref: AdapterRef,
    *,
    device: str | None = None,
    dtype: str | None = None,
) -> AdapterCheck:
    """:meth:`Engine.check_adapter` on a fresh engine for ``spec``: for a process that
    has no serving engine (the training worker, checking the adapter it just trained).
    A base model that cannot be loaded fails the check with its reason."""
    started = time.monotonic()
    try:
        engine = Engine.load(spec, cache_dir, device=device, dtype=dtype, max_adapters=1)
    except GenerationError as exc:
        return AdapterCheck(ok=False, error=f"the base model could not be loaded: {exc}",
                            sample="", seconds=time.monotonic() - started,
                            libraries=library_versions(), base_model=str(spec))
    try:
        return engine.check_adapter(ref)
    finally:
        del engine
        _free_memory()


def _free_memory() -> None:
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    eos = model.generation_config.eos_token_id
    if eos is None:
        eos = tokenizer.eos_token_id
    ids = eos if isinstance(eos, list) else [eos]
    return [int(i) for i in ids if i is not None]


class _RowSampler:
    """A logits processor that samples each row with its own generator and settings,
    then leaves only the chosen token, so greedy decoding in ``generate`` picks it.

    Per-row generators make a row's draft independent of the rest of the batch;
    per-row settings let requests with different sampling share one batch; the
    per-row token budget forces an eos, so short requests stop early. Penalty, eos
    masking and top-k run batched on the model's device; only the top-k candidates go
    to the CPU, where each row draws with its own generator.
    """

    def __init__(self, rows: list[_Row], prompt_width: int, eos_ids: list[int],
                 sentences: _SentenceTokens):
        import torch

        self.sentences = sentences
        self.rows = rows
        self.prompt_width = prompt_width
        self.eos_ids = eos_ids
        self.generators = []
        for row in rows:
            gen = torch.Generator(device="cpu")
            gen.manual_seed(row.seed)
            self.generators.append(gen)
        self.penalty = torch.tensor([r.sampling.repetition_penalty for r in rows])
        self.min_new = torch.tensor([r.min_new for r in rows])
        self.pad_width = [prompt_width - len(r.prompt_ids) for r in rows]
        self.top_k = max((r.sampling.top_k for r in rows), default=0)
        if any(r.sampling.top_k == 0 for r in rows):
            self.top_k = 0  # some row samples from the whole vocabulary

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        step = input_ids.shape[1] - self.prompt_width
        device = scores.device
        scores = scores.float()
        if bool((self.penalty != 1.0).any()):
            scores = self._apply_penalty(input_ids, scores)
        early = (self.min_new > step).to(device)
        if bool(early.any()):
            eos = torch.tensor(self.eos_ids, device=device)
            scores[early.nonzero()[:, :1], eos] = float("-inf")  # (rows, 1) x (eos,)
        k = scores.shape[1] if self.top_k == 0 else min(self.top_k, scores.shape[1])
        values, ids = torch.topk(scores, k, dim=-1)
        values, ids = values.cpu(), ids.cpu()
        chosen = []
        for i, row in enumerate(self.rows):
            if step >= row.max_new:
                chosen.append(self.eos_ids[0])
                continue
            token = self._choose(values[i], ids[i], row.sampling, self.generators[i])
            if (row.stop_after is not None and step > max(row.stop_after, row.min_new)
                    and self.sentences.ends_before(int(input_ids[i, -1]), token)):
                token = self.eos_ids[0]
            chosen.append(token)
        out = torch.full_like(scores, float("-inf"))
        out[torch.arange(len(self.rows), device=device), torch.tensor(chosen, device=device)] = 0.0
        return out

    def _apply_penalty(self, input_ids: Any, scores: Any) -> Any:
        import torch

        ids = input_ids.clone()
        for i, pad in enumerate(self.pad_width):
            if pad:
                # Padding must not be penalised (pad can be eos): point padded places at
                # the row's first real token, which gets the same penalty anyway.
                ids[i, :pad] = ids[i, pad]
        picked = scores.gather(1, ids)
        penalty = self.penalty.to(scores.device).unsqueeze(1)
        picked = torch.where(picked > 0, picked / penalty, picked * penalty)
        return scores.scatter(1, ids, picked)

    @staticmethod
    def _choose(values: Any, ids: Any, params: SamplingParams, generator: Any) -> int:
        """Draw one token from the row's top candidates (sorted by score, on the CPU)."""
        import torch

        if params.temperature == 0:
            return int(ids[0])
        if params.top_k:
            values, ids = values[: params.top_k], ids[: params.top_k]
        probs = torch.softmax(values / params.temperature, dim=-1)
        if params.top_p < 1.0:
            before = torch.cumsum(probs, dim=-1) - probs
            keep = before < params.top_p
            keep[0] = True
            probs, ids = probs[keep], ids[keep]
        # Candidates in token-id order: a rounding-level change in the logits moves an
        # interval boundary by ~1e-6 instead of reordering whole intervals.
        order = torch.argsort(ids)
        probs, ids = probs[order].double(), ids[order]
        cumulative = torch.cumsum(probs / probs.sum(), 0)
        draw = torch.rand(1, generator=generator, dtype=torch.float64)
        index = int(torch.searchsorted(cumulative, draw).item())
        return int(ids[min(index, len(ids) - 1)])


@dataclass(frozen=True)
class _SentenceTokens:
    """Which tokens end a sentence, from the tokenizer's vocabulary (see
    generation.endings): a CJK full stop ends one at once; a Latin one ("." "!" "?")
    only when the next token starts with a space or line break, so "3.5" and "e.g."
    mid-sentence go on."""

    cjk_end: frozenset[int]
    latin_end: frozenset[int]
    space_start: frozenset[int]

    @classmethod
    def of(cls, tokenizer: Any) -> _SentenceTokens:
        texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        ends = sentence_end_ids(texts)
        cjk = {i for i, t in enumerate(texts) if ends[i] and t.rstrip()[-1:] in "。！？」』】》"}
        return cls(
            cjk_end=frozenset(cjk),
            latin_end=frozenset(i for i, end in enumerate(ends) if end and i not in cjk),
            space_start=frozenset(i for i, t in enumerate(texts) if t[:1].isspace()),
        )

    def ends_before(self, previous: int, token: int) -> bool:
        """True when a sentence ended with ``previous``, given the ``token`` after it."""
        return previous in self.cjk_end or (previous in self.latin_end
                                            and token in self.space_start)
