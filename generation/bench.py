"""Benchmark: naive per-draft pipeline loop vs the batched Engine on the bundled model.

    python -m generation.bench [--variants 8] [--max-new-tokens 64] [--model SPEC] [--quick]
    python -m generation.bench train ...      (dispatches to generation.bench_train)
    python -m generation.bench quality ...    (drafts on the brief: generation.bench_quality)

Fairness: both sides get the same chat prompt, the same sampling settings
(temperature 0.8, top-p 0.95, top-k 50, repetition penalty 1.1) and exactly
``--max-new-tokens`` new tokens per draft (min_new_tokens = max_new_tokens, so an early
eos cannot make one side look faster). Prints drafts/s and new tokens/s for each, their
ratio, the memory-bandwidth bound for batch-1 decoding, and a final JSON line.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from generation.specs import DEFAULT_MODEL_SPEC

SAMPLING = {"temperature": 0.8, "top_p": 0.95, "top_k": 50, "repetition_penalty": 1.1}


def default_cache_dir() -> Path:
    """The model cache: $STUDIO_MODEL_CACHE or ~/.cache/content-studio/models."""
    env = os.environ.get("STUDIO_MODEL_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "content-studio" / "models"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m generation.bench``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["train"]:
        return _dispatch_train(argv[1:])
    if argv[:1] == ["quality"]:
        from generation.bench_quality import main as quality

        return quality(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m generation.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--model", default=DEFAULT_MODEL_SPEC)
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    parser.add_argument("--quick", action="store_true",
                        help="4 variants x 24 tokens, no llama.cpp column")
    parser.add_argument("--no-llama-cpp", action="store_true")
    parser.add_argument("--device", default=None, help="cpu, cuda... (default: auto)")
    parser.add_argument("--dtype", default=None, help="float32, bfloat16... (default: auto)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's choice, one per core)")
    args = parser.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    if args.quick:
        args.variants, args.max_new_tokens, args.no_llama_cpp = 4, 24, True
    print(json.dumps(run_benchmark(args)))
    return 0


def _dispatch_train(argv: list[str]) -> int:
    try:
        module = importlib.import_module("generation.bench_train")
    except ModuleNotFoundError as exc:
        if exc.name != "generation.bench_train":
            raise
        print("generation.bench_train is not available yet (the training benchmark "
              "lives there); nothing to run.", file=sys.stderr)
        return 2
    return int(module.main(argv) or 0)


def _brief() -> Any:
    from generation.prompts import BriefInput, ProjectVoice

    brief = BriefInput(
        kind="article", title="Why a good morning routine starts with coffee",
        instructions="Give three practical tips.", audience="busy parents", tone="warm",
        keywords=("coffee", "routine"), target_words=200,
    )
    return brief, ProjectVoice(brand_voice="Warm, plain and direct.",
                               banned_terms=("cheap",))


def memory_bandwidth_gbs(size_mb: int = 256, repeats: int = 5, device: str = "cpu") -> float:
    """Measured copy bandwidth in GB/s (bytes read + bytes written per second)."""
    import torch

    src = torch.ones(size_mb * 2**20 // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(repeats):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        started = time.perf_counter()
        dst.copy_(src)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - started)
    return 2 * src.numel() * 4 / best / 1e9


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Run the three columns and return the JSON summary."""
    import torch
    from transformers import GenerationConfig, pipeline

    from generation.engine import Engine, GenerationRequest, SamplingParams

    variants, new_tokens = args.variants, args.max_new_tokens
    started = time.monotonic()
    engine = Engine.load(args.model, args.cache_dir, device=args.device, dtype=args.dtype)
    print(f"model {engine.base.spec} loaded from {engine.base.model_dir} in "
          f"{time.monotonic() - started:.1f}s on {engine.base.device}/{engine.base.dtype}, "
          f"{torch.get_num_threads()} threads")
    brief, voice = _brief()
    sampling = SamplingParams(
        temperature=SAMPLING["temperature"], top_p=SAMPLING["top_p"], top_k=int(SAMPLING["top_k"]),
        repetition_penalty=SAMPLING["repetition_penalty"], max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
    )
    request = GenerationRequest(brief, voice, variants=variants, sampling=sampling, seed=1)
    prompt = engine.build_prompt(request).text

    # (a) naive: one pipeline call per draft.
    pipe = pipeline("text-generation", model=engine.base.model, tokenizer=engine.base.tokenizer,
                    device=engine.base.device)
    def pipe_config(tokens: int) -> Any:
        return GenerationConfig(max_new_tokens=tokens, min_new_tokens=tokens, do_sample=True,
                                pad_token_id=engine.base.tokenizer.pad_token_id,
                                eos_token_id=engine.base.model.generation_config.eos_token_id,
                                **SAMPLING)

    pipe(prompt, generation_config=pipe_config(2), return_full_text=False,
         add_special_tokens=False)  # warm-up
    t0 = time.perf_counter()
    for i in range(variants):
        torch.manual_seed(i)
        pipe(prompt, generation_config=pipe_config(new_tokens), return_full_text=False,
             add_special_tokens=False)
    naive_s = time.perf_counter() - t0
    naive_tokens = variants * new_tokens  # min_new_tokens = max_new_tokens: exact length

    # (b) the engine: all variants in one batched generate call.
    warm = GenerationRequest(brief, voice, variants=1, seed=0,
                             sampling=SamplingParams(max_new_tokens=2, min_new_tokens=2))
    engine.generate([warm])
    t0 = time.perf_counter()
    [result] = engine.generate([request])
    batched_s = time.perf_counter() - t0
    batched_tokens = sum(d.completion_tokens for d in result.drafts)
    regenerated = sum(d.regenerated for d in result.drafts)

    # Batch-1 bound: every decoded token reads all weights once.
    param_bytes = sum(p.numel() * p.element_size() for p in engine.base.model.parameters())
    bandwidth = memory_bandwidth_gbs(device=engine.base.device)
    bound_tps = bandwidth * 1e9 / param_bytes
    naive_tps = naive_tokens / naive_s

    summary: dict[str, Any] = {
        "model": str(engine.base.spec),
        "device": engine.base.device,
        "dtype": engine.base.dtype,
        "threads": torch.get_num_threads(),
        "load_avg_1m": round(os.getloadavg()[0], 2),  # >threads: the machine was shared
        "variants": variants,
        "max_new_tokens": new_tokens,
        "prompt_tokens": result.prompt_tokens,
        "naive_drafts_per_s": round(variants / naive_s, 4),
        "naive_tokens_per_s": round(naive_tps, 2),
        "batched_drafts_per_s": round(variants / batched_s, 4),
        "batched_tokens_per_s": round(batched_tokens / batched_s, 2),
        "ratio": round(naive_s / batched_s, 2),
        "batched_regenerated": regenerated,
        "memory_bandwidth_gbs": round(bandwidth, 2),
        "weights_mb": round(param_bytes / 2**20, 1),
        "batch1_bound_tokens_per_s": round(bound_tps, 2),
        "batch1_fraction_of_bound": round(naive_tps / bound_tps, 3),
    }
    print(f"(a) naive pipeline loop: {variants} drafts in {naive_s:.1f}s = "
          f"{summary['naive_drafts_per_s']} drafts/s, {summary['naive_tokens_per_s']} tokens/s")
    print(f"(b) batched engine:      {variants} drafts in {batched_s:.1f}s = "
          f"{summary['batched_drafts_per_s']} drafts/s, {summary['batched_tokens_per_s']} "
          f"tokens/s ({regenerated} regenerated)")
    print(f"ratio b/a: {summary['ratio']}x")
    print(f"batch-1 bound: {summary['weights_mb']} MB weights per token at "
          f"{summary['memory_bandwidth_gbs']} GB/s copy bandwidth = {bound_tps:.1f} tokens/s; "
          f"naive batch-1 reaches {100 * naive_tps / bound_tps:.0f}%")
    if not args.no_llama_cpp:
        summary.update(_llama_cpp_column(engine, prompt, variants, new_tokens))
    return summary


def _llama_cpp_column(engine: Any, prompt: str, variants: int, new_tokens: int) -> dict[str, Any]:
    """(c) llama-cpp-python on the same GGUF, sequential, when it is installed."""
    try:
        from llama_cpp import Llama  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        print("(c) llama.cpp: llama-cpp-python not installed, column skipped")
        return {"llama_cpp": "not installed"}
    if engine.base.spec.source != "bundled":
        return {"llama_cpp": "only for the bundled GGUF"}
    import torch

    from generation.models import bundled_gguf_path
    from generation.specs import BUNDLED_MODELS

    gguf = bundled_gguf_path(BUNDLED_MODELS[engine.base.spec.name])
    llm = Llama(model_path=str(gguf), n_ctx=2048, n_threads=torch.get_num_threads(),
                verbose=False)
    eos = llm.token_eos()
    kwargs = dict(max_tokens=new_tokens, temperature=SAMPLING["temperature"],
                  top_p=SAMPLING["top_p"], top_k=SAMPLING["top_k"],
                  repeat_penalty=SAMPLING["repetition_penalty"],
                  logit_bias={eos: -1e9})  # never stop early: same token count as (a), (b)
    llm(prompt, **{**kwargs, "max_tokens": 2})
    t0 = time.perf_counter()
    tokens = 0
    for i in range(variants):
        out = llm(prompt, seed=i, **kwargs)
        tokens += out["usage"]["completion_tokens"]
    seconds = time.perf_counter() - t0
    print(f"(c) llama.cpp sequential: {variants} drafts in {seconds:.1f}s = "
          f"{variants / seconds:.3f} drafts/s, {tokens / seconds:.1f} tokens/s")
    return {"llama_cpp_drafts_per_s": round(variants / seconds, 4),
            "llama_cpp_tokens_per_s": round(tokens / seconds, 2)}


if __name__ == "__main__":
    raise SystemExit(main())
