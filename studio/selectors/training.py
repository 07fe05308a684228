"""Reads of the training pages: examples (filtered), jobs, versions, exports, chart data.

Every query starts from a ``*_visible_to(user)`` queryset and is narrowed to one
project, so another team's rows can never appear.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core import signing
from django.db.models import Q, QuerySet
from django.utils import timezone

from generation.training import PreferenceExample, SFTExample, Snapshot, build_snapshot, to_jsonl
from generation.training.pairing import ExampleRow, pair_examples
from studio.models import ModelVersion, Project, TrainingExample, TrainingJob
from studio.permissions import (
    examples_visible_to,
    training_jobs_visible_to,
    versions_visible_to,
)
from studio.selectors.filters import FilterField, Filters

EXPORT_FORMATS = {
    "sft": "SFT for TRL (messages)",
    "openai": "SFT for OpenAI (chat JSONL)",
    "dpo": "DPO for TRL (prompt / chosen / rejected)",
    "openai_dpo": "DPO for OpenAI (preference JSONL)",
    "studio": "Studio export (to import into another project)",
}


EXAMPLE_FILTERS: tuple[FilterField, ...] = (
    FilterField("kind", choices=lambda: TrainingExample.Kind.choices),
    FilterField("state", choices=lambda: ["included", "excluded"]),
    FilterField("q", max_length=200, help="Words in the prompt or either completion."),
)


@dataclass(frozen=True)
class ExampleFilters(Filters):
    """The training examples' filters (page and API)."""

    FIELDS = EXAMPLE_FILTERS
    kind: str = ""
    state: str = ""
    q: str = ""


def training_examples_for(
    user: Any, *, project: Project, filters: ExampleFilters
) -> QuerySet[TrainingExample]:
    qs = examples_visible_to(user).filter(project=project)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.state:
        qs = qs.filter(excluded=filters.state == "excluded")
    if filters.q:
        qs = qs.filter(
            Q(completion__icontains=filters.q)
            | Q(rejected_completion__icontains=filters.q)
            | Q(prompt__icontains=filters.q)
        )
    return qs.order_by("-created_at", "-pk")


def training_example_counts(user: Any, *, project: Project) -> dict[str, int]:
    rows = examples_visible_to(user).filter(project=project, excluded=False).values_list(
        "kind", flat=True
    )
    counts = dict.fromkeys(TrainingExample.Kind.values, 0)
    for kind in rows.iterator():
        counts[kind] = counts.get(kind, 0) + 1
    counts["excluded"] = examples_visible_to(user).filter(project=project, excluded=True).count()
    return counts


@dataclass(frozen=True)
class TrainingExport:
    """A download of the project's training data: the file's text, the content hash of
    the snapshot its examples make, and its file name."""

    body: str
    content_hash: str
    filename: str
    content_type = "application/jsonl; charset=utf-8"

    @property
    def headers(self) -> dict[str, str]:
        """A download's headers: the file name and the snapshot's content hash."""
        return {"Content-Disposition": f'attachment; filename="{self.filename}"',
                "X-Studio-Snapshot": self.content_hash}


# The snapshot a training job would freeze now, as every export names it: the same
# split as ``studio.services.training.snapshots`` (one definition, here).
EVAL_FRACTION = 0.1
SNAPSHOT_SEED = 0
# The studio's own export (``studio``): a header line, then one line per example row.
STUDIO_EXPORT_FORMAT = "content-studio-examples"
STUDIO_EXPORT_VERSION = 1
EXPORT_SIGNING_SALT = "studio.training-export"


def snapshot_from_rows(rows: Iterable[ExampleRow]) -> tuple[Snapshot, list[int]]:
    """The snapshot rows make (``generation.training.pairing``), and the ids read."""
    sft, pref, ids = pair_examples(rows)
    return build_snapshot(sft, pref, eval_fraction=EVAL_FRACTION, seed=SNAPSHOT_SEED), ids


def export_signature(*, team_id: int, content_hash: str) -> str:
    """What a studio export's header carries, so an import can tell the team it came
    from and that its examples are the ones exported (HMAC with the SECRET_KEY)."""
    return signing.Signer(salt=EXPORT_SIGNING_SALT).signature(f"{team_id}:{content_hash}")


def training_export(user: Any, *, project: Project, fmt: str) -> TrainingExport:
    """The project's non-excluded examples, the ones a snapshot trains on now, in one of
    ``EXPORT_FORMATS``: plain system/user/assistant turns (never a template-rendered
    prompt), each example once, named by the content hash of the snapshot they make.

    ``sft``/``openai``: chat "messages" lines (TRL's SFTTrainer and OpenAI's chat
    fine-tuning read the same shape); ``dpo``: TRL's prompt/chosen/rejected;
    ``openai_dpo``: OpenAI's input/preferred_output/non_preferred_output; ``studio``: the
    example rows with a signed header, for import into another project of the team.
    """
    examples = examples_visible_to(user).filter(project=project, excluded=False)
    rows = list(example_rows(examples))
    snapshot, _ = snapshot_from_rows(rows)
    sft_all, pref_all, _ = pair_examples(rows)
    # In the examples' order, each once (as the snapshot holds them).
    sft = list({e.example_id: e for e in sft_all}.values())
    pref = list({e.example_id: e for e in pref_all}.values())
    if fmt in ("sft", "openai"):
        records = [e.to_openai_record() if fmt == "openai" else e.to_messages_record()
                   for e in sft]
    elif fmt in ("dpo", "openai_dpo"):
        records = [e.to_openai_record() if fmt == "openai_dpo" else e.to_record() for e in pref]
    elif fmt == "studio":
        records = [studio_export_header(project=project, snapshot=snapshot, examples=len(rows))]
        content = dict(examples.values_list("pk", "content_kind"))
        tags = dict(examples.values_list("pk", "reason_tags"))
        records += [{"kind": kind, "content_kind": content[pk], "prompt": prompt,
                     "completion": completion, "rejected_completion": rejected,
                     "reason_tags": tags[pk]}
                    for pk, _, kind, prompt, completion, rejected in rows]
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    filename = f"project-{project.pk}-{fmt}-{snapshot.content_hash[:12]}.jsonl"
    return TrainingExport(to_jsonl(records), snapshot.content_hash, filename)


def studio_export_header(*, project: Project, snapshot: Snapshot, examples: int) -> dict[str, Any]:
    return {
        "format": STUDIO_EXPORT_FORMAT, "version": STUDIO_EXPORT_VERSION,
        "team": project.team_id, "project": project.pk, "project_name": project.name,
        "content_hash": snapshot.content_hash, "counts": snapshot.counts,
        "examples": examples,
        "signature": export_signature(team_id=project.team_id,
                                      content_hash=snapshot.content_hash),
    }


def training_jobs_for(user: Any, *, project: Project) -> QuerySet[TrainingJob]:
    return (training_jobs_visible_to(user).filter(project=project)
            .select_related("requested_by", "snapshot", "version").order_by("-created_at", "-pk"))


def model_versions_for(user: Any, *, project: Project) -> QuerySet[ModelVersion]:
    return (versions_visible_to(user).filter(project=project)
            .select_related("parent", "snapshot", "training_job").order_by("-number"))


def model_rollback_target(user: Any, *, project: Project) -> ModelVersion | None:
    """Where a roll back would go when the live version breaks: the newest archived
    version whose load check has not failed (the live version's parent first)."""
    live = project.live_model
    candidates = (versions_visible_to(user).filter(project=project,
                                                   status=ModelVersion.Status.ARCHIVED)
                  .exclude(load_check=ModelVersion.LoadCheck.FAILED).order_by("-number"))
    if live is not None and live.parent_id is not None:
        parent = candidates.filter(pk=live.parent_id).first()
        if parent is not None:
            return parent
    return candidates.first()


def training_job_elapsed(job: TrainingJob) -> int | None:
    if job.started_at is None:
        return None
    end = job.finished_at or timezone.now()
    return max(0, int((end - job.started_at).total_seconds()))


def training_job_chart(job: TrainingJob) -> dict[str, Any]:
    """Loss curve as Chart.js data: one x label per (phase, step), train and eval series."""
    points: dict[tuple[int, int], dict[str, Any]] = {}
    phases = {"sft": 0, "dpo": 1}
    for p in job.loss_curve or []:
        key = (phases.get(str(p.get("phase")), 2), int(p.get("step", 0)))
        slot = points.setdefault(key, {"label": f"{p.get('phase', '')} {key[1]}"})
        for name in ("loss", "eval_loss"):
            if isinstance(p.get(name), int | float):
                slot[name] = p[name]
    ordered = [points[k] for k in sorted(points)]
    return {
        "labels": [p["label"] for p in ordered],
        "train": [p.get("loss") for p in ordered],
        "eval": [p.get("eval_loss") for p in ordered],
        "status": job.status,
        "active": job.status in TrainingJob.ACTIVE,
    }


# --- Examples as training data -------------------------------------------------------

# What a dataset is built from: one tuple per TrainingExample row (see
# ``generation.training.pairing.ExampleRow``).
ROW_FIELDS = ("pk", "project_id", "kind", "prompt", "completion", "rejected_completion")


def training_examples(project: Project) -> Any:
    """The project's examples that go into training (never another project's)."""
    return TrainingExample.objects.filter(project=project, excluded=False)


def dataset_examples(project: Project) -> tuple[list[SFTExample], list[PreferenceExample]]:
    """The project's non-excluded examples as the library's dataclasses."""
    return examples_as_dataset(training_examples(project))


def examples_as_dataset(
    examples: QuerySet[TrainingExample],
) -> tuple[list[SFTExample], list[PreferenceExample]]:
    """Training examples (one project's, excluded ones already left out) as SFT examples
    and preference pairs, in a fixed order: see ``generation.training.pairing`` for what
    each kind of example teaches. A malformed row is skipped and logged.
    """
    sft, pref, _ = pair_examples(example_rows(examples))
    return sft, pref




def example_rows(examples: QuerySet[TrainingExample]) -> Iterator[ExampleRow]:
    """The examples as the rows ``pair_examples`` reads, ascending pk."""
    return examples.order_by("pk").values_list(*ROW_FIELDS).iterator()
