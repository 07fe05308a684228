"""Pipeline benchmarks: a burst of briefs through the real generation task code.

    python -m studio.bench_pipeline [--jobs 8] [--max-new-tokens 48] [--model SPEC]
    python -m studio.bench_pipeline --mixed [--long-tokens 160] [--burst 32]
                                    [--burst-tokens 48] [--model SPEC]

``--mixed``: a mixed burst from two teams (6 one-variant ads of 12 words, 2 one-variant
articles of 400 words capped at ``--long-tokens``), written (a) the old way, as one micro-batch whose
drafts are saved when its longest job ends, nothing shown before, and (b) by the
continuous batch the worker runs now (jobs join at the next step, leave when done, text
published while written). It reports p50/p95 time to first visible text and to a short
job's drafts, and drafts/s; then a ``--burst``-draft burst (min = max tokens) through the
engine, against llama.cpp (llama-cpp-python) on the same GGUF writing the same drafts
one after another when it is installed (``llama_cpp_drafts_per_s`` null otherwise).

Runs the real generation task code (claim, build prompts, generate, save drafts) in
this process against a throwaway SQLite database, on the bundled model by default:
(a) GENERATION_MICRO_BATCH=1, every task writes its own job; (b) the first task takes
the whole burst into one batched model call. The model is loaded before timing. The
last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any


def _setup(db_path: str) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _burst(project: Any, user: Any, n: int, tag: str) -> list[Any]:
    from studio.models import Brief, GenerationJob

    jobs = []
    for i in range(n):
        brief = Brief.objects.create(
            project=project, author=user, kind="social_post", title=f"{tag} launch post {i}",
            instructions="Announce the new autumn blend.", variants=1,
            extra={"platform": "Instagram"},
        )
        jobs.append(GenerationJob.objects.create(
            brief=brief, base_model=project.base_model, requested_by=user, variants=1,
            seed=1000 + i))
    return jobs


def _run(jobs: list[Any], micro_batch: int) -> float:
    from django.conf import settings

    from studio.tasks.generation import generate_job

    settings.GENERATION_MICRO_BATCH = micro_batch
    started = time.perf_counter()
    for job in jobs:
        generate_job.apply(args=[job.pk]).get()
    return time.perf_counter() - started


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (k - low), 2)


def _mixed_burst(project_a: Any, project_b: Any, user_a: Any, user_b: Any, tag: str
                 ) -> tuple[list[Any], set[int]]:
    """6 one-variant ads (3 per team) and 2 long articles (team A), queued at once."""
    from studio.models import Brief, GenerationJob

    jobs: list[Any] = []
    short: set[int] = set()
    plan = [("article", project_a, user_a), ("ad_copy", project_a, user_a),
            ("ad_copy", project_b, user_b), ("article", project_a, user_a),
            ("ad_copy", project_a, user_a), ("ad_copy", project_b, user_b),
            ("ad_copy", project_a, user_a), ("ad_copy", project_b, user_b)]
    for i, (kind, project, user) in enumerate(plan):
        extra = ({"product": "Autumn Blend 250 g", "channel": "Instagram",
                  "call_to_action": "Order today"} if kind == "ad_copy" else {})
        brief = Brief.objects.create(
            project=project, author=user, kind=kind, title=f"{tag} {kind} {i}",
            instructions="Announce the new autumn blend.", variants=1, extra=extra,
            target_words=12 if kind == "ad_copy" else 400)
        job = GenerationJob.objects.create(brief=brief, base_model=project.base_model,
                                           requested_by=user, variants=1, seed=2000 + i)
        jobs.append(job)
        if kind == "ad_copy":
            short.add(job.pk)
    return jobs, short


def _old_micro_batch(jobs: list[Any]) -> tuple[dict[int, float], float]:
    """The micro-batcher this replaced: claim the burst, one batched call, save each
    job's drafts when the whole batch is done; nothing is visible before."""
    from studio.services import generation as services
    from studio.tasks.generation import engine_for, to_drafts, to_request

    started = time.perf_counter()
    claims = [services.job_claim(job_id=j.pk, worker="bench-old") for j in jobs]
    inputs = [services.job_inputs(job_id=c.job_id) for c in claims if c]
    engine = engine_for(inputs[0]["base_model"])
    results = engine.generate([to_request(i) for i in inputs])
    seen: dict[int, float] = {}
    for claim, result in zip(claims, results, strict=True):
        assert claim is not None
        services.job_complete(claim=claim, prompt=result.prompt, drafts=to_drafts(result),
                              timings=result.timings)
        seen[claim.job_id] = time.perf_counter() - started
    return seen, time.perf_counter() - started


def _new_scheduler(jobs: list[Any]) -> tuple[dict[int, float], dict[int, float], float]:
    from studio.services import generation as services
    from studio.tasks.generation import generation_run

    started = time.perf_counter()
    text: dict[int, float] = {}
    drafts: dict[int, float] = {}

    def observe(event: str, job_id: int) -> None:
        (text if event == "text" else drafts).setdefault(job_id, time.perf_counter() - started)

    claim = services.job_claim(job_id=jobs[0].pk, worker="bench-new")
    assert claim is not None
    generation_run(claim=claim, worker="bench-new", observer=observe)
    return text, drafts, time.perf_counter() - started


def _burst_throughput(engine: Any, drafts: int, tokens: int) -> float:
    """Drafts/s of the engine writing ``drafts`` drafts of exactly ``tokens`` tokens."""
    from generation.engine import GenerationRequest, SamplingParams
    from generation.prompts import BriefInput

    sampling = SamplingParams(max_new_tokens=tokens, min_new_tokens=tokens)
    per = 8
    requests = [GenerationRequest(BriefInput("ad_copy", f"Burst {i}", target_words=12,
                                             extra={"product": "Autumn Blend 250 g"}),
                                  variants=min(per, drafts - i * per), seed=i,
                                  sampling=sampling)
                for i in range((drafts + per - 1) // per)]
    started = time.perf_counter()
    engine.generate(requests)
    return drafts / (time.perf_counter() - started)


def _llama_cpp_throughput() -> float | None:
    import importlib.util

    if importlib.util.find_spec("llama_cpp") is None:
        return None  # llama-cpp-python is not installed here (see the README)
    raise SystemExit("llama-cpp-python is installed: run generation.bench for its column")


def mixed(args: argparse.Namespace) -> dict[str, Any]:
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from studio.models import Project, Team
    from studio.tasks.generation import engine_for

    settings.GENERATION_MAX_NEW_TOKENS = args.long_tokens
    model = args.model or settings.DEFAULT_BASE_MODEL
    projects: list[Any] = []
    users: list[Any] = []
    for name in ("A", "B"):
        team = Team.objects.create(name=f"Team {name}", slug=f"team-{name.lower()}")
        projects.append(Project.objects.create(team=team, name=f"Bench {name}",
                                               base_model=model, brand_voice="Warm."))
        users.append(get_user_model().objects.create(username=f"bench-{name.lower()}"))
    print(f"loading {model} …", file=sys.stderr)
    engine = engine_for(model)
    _run(_burst(projects[0], users[0], 1, "warm-up"), 1)
    settings.GENERATION_MICRO_BATCH = 8  # the default: _run set it to 1

    a, b = projects
    old_jobs, short = _mixed_burst(a, b, users[0], users[1], "old")
    old_seen, old_total = _old_micro_batch(old_jobs)
    new_jobs, new_short = _mixed_burst(a, b, users[0], users[1], "new")
    new_text, new_drafts, new_total = _new_scheduler(new_jobs)
    n = len(new_jobs)
    burst = _burst_throughput(engine, args.burst, args.burst_tokens)
    load = os.getloadavg()[0]
    return {
        "model": model, "device": engine.base.device, "load_avg_1m": round(load, 2),
        "cpu_count": os.cpu_count(), "jobs": n, "short_jobs": len(short),
        "long_tokens": args.long_tokens,
        "old_first_text_p50_s": _percentile(list(old_seen.values()), 0.5),
        "old_first_text_p95_s": _percentile(list(old_seen.values()), 0.95),
        "old_short_p50_s": _percentile([old_seen[j] for j in short], 0.5),
        "old_short_p95_s": _percentile([old_seen[j] for j in short], 0.95),
        "old_drafts_per_s": round(n / old_total, 3),
        "new_first_text_p50_s": _percentile(list(new_text.values()), 0.5),
        "new_first_text_p95_s": _percentile(list(new_text.values()), 0.95),
        "new_short_p50_s": _percentile([new_drafts[j] for j in new_short], 0.5),
        "new_short_p95_s": _percentile([new_drafts[j] for j in new_short], 0.95),
        "new_drafts_per_s": round(n / new_total, 3),
        "burst_drafts": args.burst, "burst_tokens": args.burst_tokens,
        "engine_drafts_per_s": round(burst, 3),
        "llama_cpp_drafts_per_s": _llama_cpp_throughput(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--model", default="")
    parser.add_argument("--mixed", action="store_true")
    parser.add_argument("--long-tokens", type=int, default=160)
    parser.add_argument("--burst", type=int, default=32)
    parser.add_argument("--burst-tokens", type=int, default=48)
    args = parser.parse_args(argv)
    if args.mixed:
        with tempfile.TemporaryDirectory() as tmp:
            _setup(os.path.join(tmp, "bench.sqlite3"))
            result = mixed(args)
        print(f"mixed burst of {result['jobs']} jobs ({result['short_jobs']} short) on "
              f"{result['model']} ({result['device']}, load avg {result['load_avg_1m']}):")
        for side in ("old", "new"):
            print(f"  {side}: first text p50/p95 {result[f'{side}_first_text_p50_s']}/"
                  f"{result[f'{side}_first_text_p95_s']} s, short drafts p50/p95 "
                  f"{result[f'{side}_short_p50_s']}/{result[f'{side}_short_p95_s']} s, "
                  f"{result[f'{side}_drafts_per_s']} drafts/s")
        print(f"  {result['burst_drafts']}-draft burst: engine {result['engine_drafts_per_s']} "
              f"drafts/s, llama.cpp {result['llama_cpp_drafts_per_s']}")
        print(json.dumps(result))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        _setup(os.path.join(tmp, "bench.sqlite3"))
        from django.conf import settings
        from django.contrib.auth import get_user_model

        from studio.models import Draft, GenerationJob, Project, Team
        from studio.tasks.generation import engine_for

        settings.GENERATION_MAX_NEW_TOKENS = args.max_new_tokens
        model = args.model or settings.DEFAULT_BASE_MODEL
        team = Team.objects.create(name="Bench", slug="bench")
        project = Project.objects.create(team=team, name="Bench", base_model=model,
                                         brand_voice="Warm and plain.")
        user = get_user_model().objects.create(username="bench")
        print(f"loading {model} …", file=sys.stderr)
        engine = engine_for(model)
        # Warm-up: the first generate call pays one-off costs (kernels, caches).
        _run(_burst(project, user, 1, "warm-up"), 1)

        sequential = _run(_burst(project, user, args.jobs, "single"), 1)
        batched_jobs = _burst(project, user, args.jobs, "batched")
        batched = _run(batched_jobs, args.jobs)
        assert all(j.status == "succeeded" for j in
                   GenerationJob.objects.filter(pk__in=[j.pk for j in batched_jobs]))
        tokens = sum(Draft.objects.filter(job__in=batched_jobs)
                     .values_list("completion_tokens", flat=True))

    result = {
        "jobs": args.jobs,
        "max_new_tokens": args.max_new_tokens,
        "model": model,
        "device": engine.base.device,
        "one_at_a_time_s": round(sequential, 2),
        "micro_batched_s": round(batched, 2),
        "one_at_a_time_jobs_per_s": round(args.jobs / sequential, 3),
        "micro_batched_jobs_per_s": round(args.jobs / batched, 3),
        "speedup": round(sequential / batched, 2),
        "batched_new_tokens": tokens,
    }
    print(f"{args.jobs} single-variant briefs on {model} ({engine.base.device}):")
    print(f"  one job per task : {sequential:7.2f} s  ({result['one_at_a_time_jobs_per_s']} jobs/s)")
    print(f"  micro-batched    : {batched:7.2f} s  ({result['micro_batched_jobs_per_s']} jobs/s)")
    print(f"  speedup          : {result['speedup']}x")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
