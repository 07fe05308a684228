"""Micro-batching benchmark: a burst of single-variant briefs, one job per task vs batched.

    python -m studio.bench_pipeline [--jobs 8] [--max-new-tokens 48] [--model SPEC]

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--model", default="")
    args = parser.parse_args(argv)

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
