"""The learning loop, closed: generate → simulated editor → retrain → gate → promote.

    python -m studio.bench_loop [--quick] [--rounds 3] [--briefs 16] [--held-out 6]
                                [--model SPEC|tiny] [--max-new-tokens 64]
    python -m studio.bench_loop retrain [--approvals 50] [--model SPEC]

Runs the studio's own services and tasks in this process against a throwaway SQLite
database (Celery messages go to an in-memory broker; the tasks are run here with
``.apply``): briefs are created with ``brief_create`` and written by ``generate_job``; a
rule-based editor with hidden preferences (word swaps, banned phrases, a length cap, a
fixed sign-off) approves every draft, with its edits, through ``review_approve``; a
retrain is ``training_job_start`` + ``run_training_job``, whose gate decides whether the
new version goes live (auto-promote).

Three arms write the same held-out briefs with the same seeds after every round, each
scored by the edit cost (``generation.editcost``) the editor's rules would impose:

* learning: the project that is reviewed and retrained (its live model, its few-shot
  examples: the product as it is);
* no learning: the base model, no approvals;
* oracle: the base model with the hidden rules written into the project's style rules.

``retrain`` times one retrain of a project with ``--approvals`` approvals in the house
style (the figure for "a retrain on 50 approvals within 5 minutes").

The last line printed is one JSON object: ``rounds`` (held-out edit cost of the learning
arm after each round), ``no_learning_cost``, ``oracle_cost``, ``acceptance`` (share of
the round's drafts approved without an edit), ``promoted`` (per round), timings and the
machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

from generation.editcost import edit_cost, edit_units

# --- The simulated editor ------------------------------------------------------------


@dataclass(frozen=True)
class HiddenPreferences:
    """What the editor always changes. The model is never told (except in the oracle
    arm): it must learn it from the approved texts."""

    swaps: dict[str, str] = field(default_factory=lambda: {
        "coffee": "brew", "customers": "neighbours", "delicious": "moreish",
        "perfect": "just right", "enjoy": "savour",
    })
    banned: tuple[str, ...] = ("amazing", "best", "ultimate", "guaranteed", "!")
    max_units: int = 30  # words (or CJK characters) before the sign-off
    sign_off: str = "Drop anchor, stay a while. Warmly, the Harbor Lane crew."

    def as_style(self) -> dict[str, str]:
        """The rules as project settings, for the oracle arm."""
        swaps = "; ".join(f'say "{b}", never "{a}"' for a, b in self.swaps.items())
        return {
            "brand_voice": f"Harbor Lane house style: {swaps}.",
            "style_must": (f"Keep the text under {self.max_units} words.\n"
                           f"End with exactly this sign-off: {self.sign_off}"),
            "style_must_not": "\n".join(f'Use "{b}"' for b in self.banned),
        }


_SENTENCE = re.compile(r"(?<=[.!?…])\s+")


def _keep_case(new: str) -> Any:
    def replace(match: re.Match[str]) -> str:
        return new[:1].upper() + new[1:] if match.group(0)[:1].isupper() else new
    return replace


def simulated_edit(text: str, prefs: HiddenPreferences) -> str:
    """The editor's final text for a draft: sentences with a banned phrase go, words are
    swapped, the body is cut to whole sentences within the length cap (at least the
    first, cut at the cap), and the sign-off ends it. Deterministic."""
    body = text.replace(prefs.sign_off, " ").strip()
    sentences = [s.strip() for s in _SENTENCE.split(body) if s.strip()]
    kept = [s for s in sentences
            if not any(b.lower() in s.lower() for b in prefs.banned)]
    swapped = []
    for sentence in kept:
        for old, new in prefs.swaps.items():
            sentence = re.sub(rf"\b{re.escape(old)}\b", _keep_case(new), sentence,
                              flags=re.IGNORECASE)
        swapped.append(sentence)
    out: list[str] = []
    used = 0
    for sentence in swapped:
        n = len(edit_units(sentence))
        if used + n > prefs.max_units:
            if not out:  # one long sentence: keep its first words
                words = sentence.split()[: prefs.max_units]
                out.append(" ".join(words).rstrip(",;:") + ".")
            break
        out.append(sentence)
        used += n
    return (" ".join(out) + " " + prefs.sign_off).strip()


# --- The studio, in this process ------------------------------------------------------


PRODUCTS = [
    "oat flat white", "cold brew", "cinnamon bun", "espresso tonic", "chai latte",
    "banana bread", "matcha latte", "almond croissant", "mocha", "lemon drizzle cake",
    "cortado", "blueberry muffin", "iced americano", "carrot cake", "hot chocolate",
    "sourdough toast", "flat white", "pistachio cookie", "turmeric latte", "toastie",
    "affogato", "granola bowl", "macchiato", "scone with jam", "filter coffee", "brownie",
    "vanilla latte", "porridge", "iced tea", "cheese scone", "caramel latte", "bagel",
    "rye loaf", "pear tart", "hazelnut latte", "date slice", "mint tea", "fig roll",
    "flapjack", "orange cake", "egg muffin", "oat cookie", "berry smoothie", "babka",
    "plum crumble", "malt loaf", "walnut cake", "apricot danish",
]
HELD_OUT = ["honey oat cookie", "ginger shot", "raspberry tart", "spiced pumpkin latte",
            "cappuccino", "avocado toast", "double espresso", "apple turnover"]


def _setup(root: str) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{root}/bench.sqlite3"
    # Messages the services send go nowhere: this process runs the tasks itself.
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.DATASET_DIR = os.path.join(root, "datasets")
    settings.ADAPTER_DIR = os.path.join(root, "adapters")
    call_command("migrate", verbosity=0)


def _brief_data(product: str, target_words: int) -> dict[str, Any]:
    return {"kind": "social_post", "title": f"Our {product}",
            "instructions": f"Tell the neighbourhood about our {product}.",
            "target_words": target_words, "variants": 1,
            "extra": {"platform": "Instagram"}}


def _write(project: Any, user: Any, products: list[str], *, seed0: int,
           target_words: int) -> list[Any]:
    """Briefs for ``products`` written by the project's live model (real task), each
    with a seed fixed by its product, so every arm writes with the same seeds."""
    from studio.models import Draft, GenerationJob
    from studio.services.briefs import brief_create
    from studio.tasks.generation import generate_job

    jobs = []
    for product in products:
        brief = brief_create(user=user, project_id=project.pk,
                             data=_brief_data(product, target_words))
        job = brief.jobs.get()
        GenerationJob.objects.filter(pk=job.pk).update(
            seed=seed0 + zlib.crc32(product.encode()) % 100_000)
        jobs.append(job)
    for job in jobs:
        generate_job.apply(args=[job.pk]).get()
    return list(Draft.objects.filter(job__in=jobs).order_by("job__brief__title"))


def _cost(drafts: list[Any], prefs: HiddenPreferences) -> float:
    costs = [edit_cost(d.text, simulated_edit(d.text, prefs)).cost for d in drafts]
    return round(sum(costs) / len(costs), 4) if costs else 1.0


def _review(drafts: list[Any], editor: Any, prefs: HiddenPreferences) -> float:
    """The editor approves each draft with its edits (real review service); returns the
    share approved as written."""
    from studio.services.reviews import review_approve

    accepted = 0
    for draft in drafts:
        final = simulated_edit(draft.text, prefs)
        accepted += final == draft.text
        review_approve(user=editor, draft_id=draft.pk, version=draft.version,
                       text=None if final == draft.text else final)
    return round(accepted / len(drafts), 4) if drafts else 0.0


def _retrain(project: Any, admin: Any, overrides: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    from studio.models import ModelVersion, Project, TrainingJob
    from studio.services.training import training_job_start
    from studio.tasks.training import run_training_job

    started = time.monotonic()
    job = training_job_start(user=admin, project_id=project.pk,
                             method=TrainingJob.Method.SFT, overrides=overrides)
    outcome = run_training_job.apply(args=[job.pk]).get()
    job.refresh_from_db()
    version = ModelVersion.objects.filter(training_job=job).first()
    project.refresh_from_db()
    gate = version.gate if version else {}
    return {
        "outcome": outcome, "status": job.status, "error": job.error[:300],
        "seconds": round(time.monotonic() - started, 1), "steps": job.total_steps,
        "train_examples": (job.snapshot.counts if job.snapshot else {}),
        "hyperparameters": {k: job.hyperparameters.get(k) for k in
                            ("epochs", "learning_rate", "lora_rank", "batch_size",
                             "max_steps", "max_length")},
        "gate": {k: gate.get(k) for k in ("verdict", "n", "difference")},
        "gate_costs": [gate.get("candidate", {}).get("mean_cost"),
                       gate.get("incumbent", {}).get("mean_cost")],
        "promoted": bool(version and Project.objects.get(pk=project.pk).live_model_id
                         == version.pk),
    }


def _world(model: str, prefs: HiddenPreferences) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from studio.models import Membership, Project, Role, Team

    team = Team.objects.create(name="Loop bench", slug="loop-bench")
    users = {}
    for name, role in (("admin", Role.ADMIN), ("editor", Role.EDITOR),
                       ("marketer", Role.MARKETER)):
        users[name] = get_user_model().objects.create(username=f"bench-{name}")
        Membership.objects.create(user=users[name], team=team, role=role)
    common = {"team": team, "base_model": model,
              "brand_voice": "Friendly neighbourhood coffee shop."}
    return {
        **users,
        "learning": Project.objects.create(name="Learning", auto_promote=True, **common),
        "base": Project.objects.create(name="No learning", **common),
        "oracle": Project.objects.create(name="Oracle", **{**common, **prefs.as_style()}),
    }


def _load_avg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _model_spec(name: str, root: str) -> str:
    if name == "tiny":
        from generation.testing import build_tiny_model

        return f"local:{build_tiny_model(os.path.join(root, 'tiny-model'))}"
    return name


def run_loop(args: argparse.Namespace, root: str) -> dict[str, Any]:
    from django.conf import settings

    prefs = HiddenPreferences()
    # Drafts are as long as the briefs' target length asks (plus the studio's margin).
    settings.GATE_MAX_NEW_TOKENS = args.max_new_tokens
    model = _model_spec(args.model or settings.DEFAULT_BASE_MODEL, root)
    world = _world(model, prefs)
    held_out = HELD_OUT[: args.held_out]
    target = args.target_words
    started = time.monotonic()

    def held_out_cost(project: Any, tag: int) -> float:
        return _cost(_write(project, world["marketer"], held_out, seed0=7, target_words=target),
                     prefs)

    no_learning = held_out_cost(world["base"], 0)
    oracle = held_out_cost(world["oracle"], 0)
    print(f"held-out edit cost: no learning {no_learning:.3f}, oracle {oracle:.3f}",
          file=sys.stderr)
    rounds, acceptance, retrains = [], [], []
    for r in range(args.rounds):
        batch = PRODUCTS[r * args.briefs: (r + 1) * args.briefs]
        drafts = _write(world["learning"], world["marketer"], batch, seed0=100 * (r + 1),
                        target_words=target)
        acceptance.append(_review(drafts, world["editor"], prefs))
        retrain = _retrain(world["learning"], world["admin"], args.train_overrides)
        retrains.append(retrain)
        rounds.append(held_out_cost(world["learning"], r + 1))
        print(f"round {r + 1}: acceptance {acceptance[-1]:.2f}, retrain "
              f"{retrain['seconds']} s ({retrain['gate']['verdict']}, promoted "
              f"{retrain['promoted']}), held-out edit cost {rounds[-1]:.3f}",
              file=sys.stderr)
    return {
        "bench": "loop", "model": args.model or "bundled:smollm2-135m-instruct",
        "rounds": rounds, "no_learning_cost": no_learning, "oracle_cost": oracle,
        "acceptance": acceptance, "promoted": [r["promoted"] for r in retrains],
        "retrains": retrains, "briefs_per_round": args.briefs, "held_out": len(held_out),
        "target_words": target, "gate_max_new_tokens": args.max_new_tokens,
        "round3_vs_no_learning": (round(1 - rounds[2] / no_learning, 3)
                                  if len(rounds) >= 3 and no_learning else None),
        "seconds": round(time.monotonic() - started, 1), "load_avg_1m": _load_avg(),
        "cpus": os.cpu_count(),
    }


def run_retrain(args: argparse.Namespace, root: str) -> dict[str, Any]:
    """One retrain on ``--approvals`` house-style approvals (editor-made, as in the loop,
    but from fixed drafts so no generation time is counted)."""
    from django.conf import settings

    from studio.models import Brief, Draft, GenerationJob
    from studio.services.reviews import review_approve

    prefs = HiddenPreferences()
    model = _model_spec(args.model or settings.DEFAULT_BASE_MODEL, root)
    world = _world(model, prefs)
    project = world["learning"]
    load_before = _load_avg()
    for i in range(args.approvals):
        product = (PRODUCTS * 3)[i] + ("" if i < len(PRODUCTS) else f" no. {i}")
        brief = Brief.objects.create(project=project, author=world["marketer"],
                                     **_brief_data(product, args.target_words))
        job = GenerationJob.objects.create(brief=brief, base_model=model, variants=1,
                                           seed=i, status="succeeded",
                                           requested_by=world["marketer"])
        text = (f"Our {product} is here and it is amazing! Customers say it is the best "
                f"coffee treat in town. Come and enjoy a perfect cup today.")
        draft = Draft.objects.create(job=job, project=project, variant=0, text=text,
                                     current_text=text, prompt="", seed=i,
                                     params={"messages": _messages(project, product)})
        review_approve(user=world["editor"], draft_id=draft.pk, version=draft.version,
                       text=simulated_edit(text, prefs))
    result = _retrain(project, world["admin"], args.train_overrides)
    return {"bench": "retrain", "model": args.model or "bundled:smollm2-135m-instruct",
            "approvals": args.approvals, **result, "load_avg_1m_before": load_before,
            "load_avg_1m_after": _load_avg(), "cpus": os.cpu_count()}


def _messages(project: Any, product: str) -> list[dict[str, str]]:
    """The chat prompt the studio builds for the brief (no tokenizer needed)."""
    from generation.prompts import BriefInput, ProjectVoice
    from generation.prompts.builder import system_message, user_message

    data = _brief_data(product, 40)
    brief = BriefInput(kind=data["kind"], title=data["title"],
                       instructions=data["instructions"], target_words=40,
                       extra=data["extra"])
    voice = ProjectVoice(brand_voice=project.brand_voice)
    return [{"role": "system", "content": system_message(voice)},
            {"role": "user", "content": user_message(brief)}]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="?", default="loop", choices=["loop", "retrain"])
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds of 12 briefs, 4 held-out, 20-word briefs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--briefs", type=int, default=16, help="briefs per round")
    parser.add_argument("--held-out", type=int, default=6)
    parser.add_argument("--approvals", type=int, default=50, help="retrain: approvals")
    parser.add_argument("--target-words", type=int, default=30,
                        help="the briefs' target length (the draft's token budget follows)")
    parser.add_argument("--max-new-tokens", type=int, default=96, help="the gate's cap")
    parser.add_argument("--model", default="", help="a model spec, or 'tiny' (random)")
    parser.add_argument("--train-overrides", type=json.loads, default=None,
                        help='training settings over the defaults, as JSON: {"max_steps": 4}')
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.briefs, args.held_out = 3, 12, 4
        args.target_words = min(args.target_words, 20)
    with tempfile.TemporaryDirectory(prefix="bench-loop-") as root:
        _setup(root)
        result = run_loop(args, root) if args.what == "loop" else run_retrain(args, root)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
