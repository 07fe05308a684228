"""Batched generation on one loaded base model with per-project LoRA adapters.

Usage (one Engine per worker process)::

    engine = Engine.load("bundled:smollm2-135m-instruct", cache_dir)
    results = engine.generate([GenerationRequest(brief, voice, variants=3, seed=7)],
                              progress=lambda done, total: ...)

    batch = engine.batch(on_partial=show)      # continuous batching, as a worker does
    key = batch.add(request)                   # joins at the next step
    while not batch.idle:
        for key, result in batch.step():       # each request leaves when it is done
            ...

Reproducibility: every draft row (request, variant) draws its tokens from a counter-based
hash of its own seed (derived from request seed, variant and attempt) and its own step
(generation/sampling.py), and the sampling step orders candidate tokens by token id, so
a draft depends only on its own request, seed and variant, not on what else shares its
batch or when it joined. Each request's prompt is prefilled on its own:

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
from generation.claims import brief_sources
from generation.endings import sentence_end_ids, trim_to_sentence
from generation.errors import (
    AdapterError,
    EngineStateError,
    GenerationError,
    PromptTooLongError,
    RequestError,
)
from generation.models import BaseModel, load_base
from generation.prompts import (
    BriefInput,
    BuiltPrompt,
    FewShotExample,
    ProjectVoice,
    build_prompt,
    max_new_tokens_for,
    neutralise_control_tokens,
    render_chat,
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
    # Passages of the project's knowledge retrieved for this brief (best first): they go
    # into the prompt as far as the context window allows.
    knowledge: tuple[str, ...] = ()
    request_id: str = ""
    # A ready prompt (chat turns ending with the user turn) to write from instead of one
    # built from ``brief``: a held-out training example's prompt, for the promotion gate.
    # ``voice`` then serves the checks only.
    messages: tuple[dict[str, str], ...] = ()


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
    # The plain chat turns ``prompt`` was rendered from (system, few-shot pairs, the
    # brief's user turn): what a trainer or an export needs, not the rendered text.
    messages: tuple[dict[str, str], ...] = ()
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
    key: int  # the request's key in its Batch
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
    started: float = 0.0
    seconds: float = 0.0


class Engine:
    """A loaded base model plus an LRU of adapters; generates drafts in continuous
    batches (see :class:`Batch`)."""

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
        self.batches_run = 0  # decoding groups started from empty, for tests and logs
        self.peak_rows = 0  # most rows one group held, for tests and logs
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
        if request.messages:
            return self._prompt_from_messages(request, max_new)
        if max_new < max_new_tokens_for(brief.target_words, language=brief.language):
            # Capped budget: ask for the length the budget can hold, not a longer piece
            # that would be cut off mid-sentence.
            brief = replace(brief, target_words=words_for_tokens(max_new,
                                                                 language=brief.language))
        return build_prompt(
            brief, request.voice, self.base.tokenizer,
            context_window=self.base.context_window,
            max_new_tokens=max_new, examples=request.examples,
            knowledge=request.knowledge,
        )

    def _prompt_from_messages(self, request: GenerationRequest, max_new: int) -> BuiltPrompt:
        tokenizer = self.base.tokenizer
        messages = [
            {"role": m["role"], "content": neutralise_control_tokens(m["content"], tokenizer)}
            for m in request.messages
        ]
        text = render_chat(self.base.tokenizer, messages)
        count = len(self.base.tokenizer(text, add_special_tokens=False).input_ids)
        budget = self.base.context_window - max_new
        if count > budget:
            raise PromptTooLongError(
                f"the prompt needs {count} tokens but only {budget} are left "
                f"({self.base.context_window} context - {max_new} for the answer)"
            )
        return BuiltPrompt(kind=request.brief.kind, messages=tuple(messages), text=text,
                           token_count=count, max_new_tokens=max_new, examples_used=0,
                           examples_dropped=0, source_trimmed=False)

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
        """Generate every variant of every request; results come back in request order.

        A thin loop over :meth:`batch`: every request is checked first (RequestError,
        PromptError or AdapterError before any generation starts when an input is bad),
        then all join one continuous batch, each leaving it when its drafts are done.
        ``progress(done, total)`` is called as drafts finish.
        """
        for request in requests:
            self.prepare(request)
        total = sum(r.variants for r in requests)
        done = 0

        def count(_request_id: str, finished: int) -> None:
            nonlocal done
            done += finished
            if progress is not None:
                progress(done, total)

        batch = self.batch(on_rows_done=count)
        keys = [batch.add(r) for r in requests]
        results: dict[int, GenerationResult] = {}
        while not batch.idle:
            for key, result in batch.step():
                results[key] = result
        return [results[k] for k in keys]

    def batch(
        self,
        *,
        on_partial: PartialCallback | None = None,
        partial_every: float = 0.5,
        on_rows_done: Callable[[str, int], None] | None = None,
    ) -> Batch:
        """A continuous batch on this engine: add requests at any time, call ``step()``.

        ``on_partial(texts)`` gets the text written so far of the requests that wrote
        since their last report, at most every ``partial_every`` seconds each (and at
        their first token). ``on_rows_done(request_id, n)`` counts finished drafts.
        """
        return Batch(self, on_partial=on_partial, partial_every=partial_every,
                     on_rows_done=on_rows_done)

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
        return max_new_tokens_for(request.brief.target_words, cap=MAX_NEW_TOKENS_CAP,
                                  language=request.brief.language)

    def _decode(self, tokens: list[int]) -> str:
        return str(self.base.tokenizer.decode(tokens, skip_special_tokens=True)).strip()

    def sentence_tokens(self) -> _SentenceTokens:
        """Which tokens end a sentence (read from the tokenizer once)."""
        if self._sentence_tokens is None:
            self._sentence_tokens = _SentenceTokens.of(self.base.tokenizer)
        return self._sentence_tokens

    def _final_text(self, row: _Row) -> tuple[str, bool]:
        """The row's text, cut after its last complete sentence when it reached its cap
        mid-sentence; and whether it was (a "shortened" draft)."""
        text = self._decode(row.tokens)
        return trim_to_sentence(text) if row.finish_reason == "length" else (text, False)

    def _result(self, entry: _Entry) -> GenerationResult:
        request, prompt = entry.request, entry.prompt
        checks_started = time.monotonic()
        rows = sorted(entry.rows.values(), key=lambda r: r.variant)
        finals = [self._final_text(r) for r in rows]
        texts = [text for text, _ in finals]
        corpus = ReferenceCorpus(request.reference_corpus) if request.reference_corpus else None
        similar = near_identical_pairs(texts, self.similarity_threshold)
        sources = claim_sources(request, prompt.knowledge_used)
        drafts = []
        for pos, row in enumerate(rows):
            shortened = finals[pos][1]
            flags = check_draft(
                # A shortened draft ends a sentence or a line: not left cut.
                texts[pos], finish_reason="eos" if shortened else row.finish_reason,
                banned_terms=request.voice.banned_terms,
                must_not=request.voice.must_not, must=request.voice.must,
                corpus=corpus, language=request.brief.language,
                sources=sources, never_claims=request.voice.never_claims,
            )
            if shortened:
                flags.append(QualityFlag(
                    SHORTENED, "reached the length limit: cut after its last complete "
                    "sentence"))
            twins = [a for a, b in similar if b == pos]
            if twins:
                flags.append(QualityFlag(
                    NEAR_IDENTICAL,
                    f"near-identical to variant {rows[twins[0]].variant} even after "
                    "regenerating with a new seed",
                ))
            drafts.append(DraftOutput(
                variant=row.variant, text=texts[pos], seed=row.seed,
                prompt_tokens=len(row.prompt_ids), completion_tokens=len(row.tokens),
                finish_reason=row.finish_reason, flags=flags,
                regenerated=row.attempt > 0, generate_seconds=row.seconds,
            ))
        now = time.monotonic()
        return GenerationResult(
            request_id=request.request_id,
            model=str(self.base.spec),
            adapter_sha256=request.adapter.sha256 if request.adapter else None,
            prompt=prompt.text,
            messages=tuple(dict(m) for m in prompt.messages),
            knowledge_used=prompt.knowledge_used,
            prompt_tokens=prompt.token_count,
            examples_used=prompt.examples_used,
            source_trimmed=prompt.source_trimmed,
            sampling=replace(request.sampling, max_new_tokens=prompt.max_new_tokens),
            seed=request.seed,
            drafts=drafts,
            timings={
                "prompt_s": entry.prompt_s, "adapter_s": entry.adapter_s,
                "queue_s": (entry.admitted or now) - entry.added,
                "first_token_s": (entry.first_token or now) - entry.added,
                "generate_s": checks_started - (entry.admitted or checks_started),
                "checks_s": now - checks_started,
                "total_s": now - entry.added,
            },
        )


@dataclass(frozen=True)
class PartialText:
    """What one variant has written so far (never checked, never a draft)."""

    request_id: str
    variant: int
    text: str
    completion_tokens: int
    max_new_tokens: int
    seconds: float  # since the request joined the batch


PartialCallback = Callable[[list[PartialText]], None]


@dataclass
class _Entry:
    """One request in a batch: its prompt, rows and clocks."""

    key: int
    request: GenerationRequest
    prompt: BuiltPrompt
    prompt_ids: list[int]
    added: float
    prompt_s: float
    adapter_s: float
    rows: dict[int, _Row] = field(default_factory=dict)  # variant -> row (latest attempt)
    open: int = 0  # rows not finished yet
    redone: bool = False
    admitted: float = 0.0
    first_token: float = 0.0
    reported: float = 0.0  # when its partial text was last reported


class Batch:
    """Continuous batching: requests join at the next decoding step and each row leaves
    when it is done, so a short request never waits for a long one.

    Rows that share an adapter decode together in a group (one KV cache, left padded;
    on GPU or in half precision one group per request, see ``Engine.mix_requests``).
    Each ``step()`` admits waiting rows that fit under the engine's row and token caps
    (prefilling each request's prompt on its own, once for all its variants), runs one
    decoding step of every group with one batched sampling call per group, and returns
    the requests that finished, with their checks, as ``(key, GenerationResult)``.
    """

    def __init__(self, engine: Engine, *, on_partial: PartialCallback | None,
                 partial_every: float, on_rows_done: Callable[[str, int], None] | None) -> None:
        self.engine = engine
        self.on_partial = on_partial
        self.partial_every = partial_every
        self.on_rows_done = on_rows_done
        self.entries: dict[int, _Entry] = {}
        self.waiting: list[_Row] = []
        self.groups: dict[tuple[str, int], _Group] = {}
        self._keys = 0
        self._eos = _eos_ids(engine.base.model, engine.base.tokenizer)

    @property
    def idle(self) -> bool:
        """No request is waiting or being written."""
        return not self.entries

    @property
    def rows(self) -> int:
        """Rows decoding or waiting to."""
        return sum(e.open for e in self.entries.values())

    def add(self, request: GenerationRequest) -> int:
        """Queue ``request`` to join at the next step; returns its key. Raises
        RequestError, PromptError or AdapterError (nothing is queued then)."""
        added = time.monotonic()
        prompt = self.engine.prepare(request)
        prompt_s = time.monotonic() - added
        ids = self.engine.base.tokenizer(prompt.text, add_special_tokens=False).input_ids
        if len(ids) < 2:
            raise RequestError("the prompt is empty")
        self._keys += 1
        entry = _Entry(key=self._keys, request=request, prompt=prompt, prompt_ids=list(ids),
                       added=added, prompt_s=prompt_s,
                       adapter_s=time.monotonic() - added - prompt_s)
        self.entries[entry.key] = entry
        for v in range(request.variants):
            self._queue_row(entry, v, 0)
        return entry.key

    def cancel(self, key: int) -> bool:
        """Stop writing request ``key`` now: its rows leave the batch; nothing returned."""
        entry = self.entries.pop(key, None)
        if entry is None:
            return False
        self.waiting = [r for r in self.waiting if r.key != key]
        for group in self.groups.values():
            group.drop([i for i, r in enumerate(group.rows) if r.key == key])
        return True

    def step(self) -> list[tuple[int, GenerationResult]]:
        """Admit what fits, run one decoding step of every group, return finished requests."""
        self._admit()
        finished: list[_Row] = []
        for key in list(self.groups):
            group = self.groups[key]
            if not group.rows:
                del self.groups[key]
                continue
            with self.engine.adapters.active(group.adapter):
                finished += group.step(self.engine.base.model, self._eos,
                                       self.engine.sentence_tokens())
        now = time.monotonic()
        results = []
        for row in finished:
            entry = self.entries.get(row.key)
            if entry is None:
                continue
            row.seconds = now - row.started
            entry.open -= 1
            if entry.open == 0:
                if self._redo_near_identical(entry):
                    continue
                del self.entries[entry.key]
                results.append((entry.key, self.engine._result(entry)))  # noqa: SLF001
                if self.on_rows_done is not None:
                    self.on_rows_done(entry.request.request_id, len(entry.rows))
        self._report(now)
        return results

    # -- internals -----------------------------------------------------------------

    def _queue_row(self, entry: _Entry, variant: int, attempt: int) -> None:
        request = entry.request
        max_new = entry.prompt.max_new_tokens
        stop_after = None
        if request.sampling.max_new_tokens is None and not request.messages:
            # A budget derived from the brief: stop at the first sentence end once the
            # target length is written (the cap leaves room to finish that sentence).
            brief = request.brief
            target = min(brief.target_words,
                         words_for_tokens(max_new, language=brief.language))
            stop_after = min(target_tokens_for(target, language=brief.language), max_new)
        row = _Row(key=entry.key, variant=variant, attempt=attempt,
                   seed=variant_seed(request.seed, variant, attempt),
                   prompt_ids=entry.prompt_ids, max_new=max_new,
                   min_new=min(request.sampling.min_new_tokens, max_new),
                   sampling=request.sampling, adapter=request.adapter, stop_after=stop_after)
        entry.rows[variant] = row
        entry.open += 1
        self.waiting.append(row)

    def _redo_near_identical(self, entry: _Entry) -> bool:
        """Near-identical variants: write the later one again once, with a new seed."""
        if entry.redone:
            return False
        entry.redone = True
        rows = sorted(entry.rows.values(), key=lambda r: r.variant)
        texts = [self.engine._decode(r.tokens) for r in rows]  # noqa: SLF001
        redo = sorted({j for _, j in near_identical_pairs(texts, self.engine.similarity_threshold)})
        for j in redo:
            self._queue_row(entry, rows[j].variant, 1)
        return bool(redo)

    def _group_key(self, row: _Row) -> tuple[str, int]:
        return (row.adapter.key if row.adapter else "",
                -1 if self.engine.mix_requests else row.key)

    def _admit(self) -> None:
        if not self.waiting:
            return
        engine = self.engine
        admitted: dict[tuple[str, int], list[_Row]] = {}
        left: list[_Row] = []
        for row in self.waiting:
            key = self._group_key(row)
            group = self.groups.get(key)
            current = len(group.rows) if group else 0
            width = group.width if group else 0
            joining = admitted.get(key, [])
            width = max([width, *(len(r.prompt_ids) for r in joining), len(row.prompt_ids)])
            longest = max([row.max_new, *(r.max_new for r in joining),
                           *((group.longest_left,) if group else ())])
            rows_after = current + len(joining) + 1
            fits = (rows_after <= engine.max_batch_rows
                    and rows_after * (width + longest) <= engine.max_batch_tokens)
            if fits or (current == 0 and not joining):
                admitted.setdefault(key, []).append(row)
            else:
                left.append(row)
        self.waiting = left
        now = time.monotonic()
        for key, rows in admitted.items():
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = _Group(rows[0].adapter, engine.base.device,
                                                  engine.base.model.config.vocab_size)
                engine.batches_run += 1
            by_entry: dict[int, list[_Row]] = {}
            for row in rows:
                row.started = now
                by_entry.setdefault(row.key, []).append(row)
            with engine.adapters.active(group.adapter):
                for entry_key, entry_rows in by_entry.items():
                    entry = self.entries[entry_key]
                    entry.admitted = entry.admitted or now
                    group.join(engine.base.model, entry_rows)
            engine.peak_rows = max(engine.peak_rows, len(group.rows))

    def _report(self, now: float) -> None:
        if self.on_partial is None:
            return
        texts: list[PartialText] = []
        for entry in self.entries.values():
            rows = [r for r in entry.rows.values() if r.tokens]
            if not rows:
                continue
            if not entry.first_token:
                entry.first_token = now
            elif now - entry.reported < self.partial_every:
                continue
            entry.reported = now
            texts += [PartialText(entry.request.request_id, r.variant,
                                  self.engine._decode(r.tokens),  # noqa: SLF001
                                  len(r.tokens), r.max_new, now - entry.added)
                      for r in sorted(rows, key=lambda r: r.variant)]
        if texts:
            self.on_partial(texts)


class _Group:
    """Rows decoding together on one adapter: one KV cache, left padded so that every
    row's newest token sits in the last column; a column is dropped when no row uses it."""

    def __init__(self, adapter: AdapterRef | None, device: str, vocab: int) -> None:
        self.adapter = adapter
        self.device = device
        self.vocab = vocab
        self.rows: list[_Row] = []
        self.cache: Any = None
        self.mask: Any = None  # (rows, width) 1 where the cache holds a real token
        self.positions: Any = None  # (rows,) position id of each row's next token
        self.next_ids: Any = None  # (rows,) the token each row feeds next
        self.seen: Any = None  # (rows, vocab) tokens of each row's prompt and output
        self.generated: Any = None  # (rows,) tokens written
        self.params: Any = None

    @property
    def width(self) -> int:
        return 0 if self.mask is None else int(self.mask.shape[1])

    @property
    def longest_left(self) -> int:
        return max((r.max_new - len(r.tokens) for r in self.rows), default=0)

    def join(self, model: Any, rows: list[_Row]) -> None:
        """Prefill the rows' shared prompt (all but its last token) on its own, then add
        them to the group: the shorter side is padded on the left."""
        import torch
        import torch.nn.functional as F  # noqa: N812

        from generation.sampling import RowParams

        prompt = rows[0].prompt_ids
        ids = torch.tensor([prompt[:-1]], device=self.device)
        with torch.inference_mode():
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        cache = out.past_key_values
        if len(rows) > 1:
            cache.batch_repeat_interleave(len(rows))
        n, width = len(rows), len(prompt) - 1
        mask = torch.ones((n, width), dtype=torch.long, device=self.device)
        seen = torch.zeros((n, self.vocab), dtype=torch.bool, device=self.device)
        seen[:, torch.tensor(prompt, device=self.device)] = True
        params = RowParams.build([(r.sampling.temperature, r.sampling.top_p, r.sampling.top_k,
                                   r.sampling.repetition_penalty, r.min_new, r.seed)
                                  for r in rows], self.device)
        new = {
            "positions": torch.full((n,), width, dtype=torch.long, device=self.device),
            "next_ids": torch.full((n,), prompt[-1], dtype=torch.long, device=self.device),
            "generated": torch.zeros((n,), dtype=torch.long, device=self.device),
        }
        if self.cache is None:
            self.cache, self.mask, self.seen, self.params = cache, mask, seen, params
            self.positions, self.next_ids = new["positions"], new["next_ids"]
            self.generated = new["generated"]
        else:
            total = max(self.width, width)
            for mine, theirs in zip(_layers(self.cache), _layers(cache), strict=True):
                for name in ("keys", "values"):
                    a, b = getattr(mine, name), getattr(theirs, name)
                    setattr(mine, name, torch.cat([
                        F.pad(a, (0, 0, total - a.shape[-2], 0)),
                        F.pad(b, (0, 0, total - b.shape[-2], 0))]))
            self.mask = torch.cat([F.pad(self.mask, (total - self.width, 0)),
                                   F.pad(mask, (total - width, 0))])
            self.seen = torch.cat([self.seen, seen])
            self.params = RowParams.concat([self.params, params])
            self.positions = torch.cat([self.positions, new["positions"]])
            self.next_ids = torch.cat([self.next_ids, new["next_ids"]])
            self.generated = torch.cat([self.generated, new["generated"]])
        self.rows += rows

    def step(self, model: Any, eos_ids: list[int], sentences: _SentenceTokens) -> list[_Row]:
        """One token for every row; returns the rows that finished (and drops them)."""
        import torch

        from generation.sampling import sample

        n = len(self.rows)
        mask = torch.cat([self.mask, torch.ones((n, 1), dtype=torch.long, device=self.device)], 1)
        with torch.inference_mode():
            out = model(input_ids=self.next_ids.unsqueeze(1), attention_mask=mask,
                        position_ids=self.positions.unsqueeze(1), past_key_values=self.cache,
                        use_cache=True)
            eos = torch.tensor(eos_ids, device=self.device)
            chosen = sample(out.logits[:, -1, :], params=self.params, seen=self.seen,
                            generated=self.generated, eos_ids=eos)
        self.mask = mask
        self.positions = self.positions + 1
        self.next_ids = chosen
        self.seen[torch.arange(n, device=self.device), chosen] = True
        ended_eos = torch.isin(chosen, eos)
        self.generated = self.generated + (~ended_eos).long()
        done: list[int] = []
        for i, (row, token, is_eos) in enumerate(zip(self.rows, chosen.tolist(),
                                                     ended_eos.tolist(), strict=True)):
            if is_eos or (row.stop_after is not None and row.tokens
                          and len(row.tokens) >= max(row.stop_after, row.min_new)
                          and sentences.ends_before(row.tokens[-1], token)):
                # The model ended it, or a sentence ended past the target length.
                row.finish_reason = "eos"
                done.append(i)
                continue
            row.tokens.append(token)
            if len(row.tokens) >= row.max_new:
                row.finish_reason = "length"
                done.append(i)
        finished = [self.rows[i] for i in done]
        self.drop(done)
        return finished

    def drop(self, indices: list[int]) -> None:
        """Take rows out of the group, and the cache columns no remaining row uses."""
        if not indices:
            return
        import torch

        gone = set(indices)
        keep = [i for i in range(len(self.rows)) if i not in gone]
        self.rows = [self.rows[i] for i in keep]
        if not keep:
            self.cache = self.mask = None
            return
        index = torch.tensor(keep, device=self.device)
        used = int(self.mask[index].sum(0).nonzero()[0, 0])
        for layer in _layers(self.cache):
            layer.keys = layer.keys[index, :, used:]
            layer.values = layer.values[index, :, used:]
        self.mask = self.mask[index, used:]
        self.seen = self.seen[index]
        self.params = self.params.select(index)
        self.positions = self.positions[index]
        self.next_ids = self.next_ids[index]
        self.generated = self.generated[index]


def _layers(cache: Any) -> list[Any]:
    """The cache's layers, each holding ``keys``/``values`` of shape (rows, heads, width,
    dim); a cache of another shape (sliding windows, quantised) cannot be joined."""
    from transformers.cache_utils import DynamicLayer

    layers = list(cache.layers)
    if any(type(layer) is not DynamicLayer for layer in layers):
        raise GenerationError("continuous batching needs a model with a plain dynamic KV cache")
    return layers


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


def claim_sources(request: GenerationRequest, knowledge_used: int | None = None) -> list[str]:
    """What a draft may state (generation.claims): the brief's fields, the project's
    voice and rules, and the knowledge passages the prompt held (all retrieved ones when
    ``knowledge_used`` is None)."""
    passages = request.knowledge if knowledge_used is None else request.knowledge[:knowledge_used]
    return brief_sources(request.brief, request.voice, passages,
                         (e.text for e in request.examples))
