"""Dataset snapshots: a project's examples frozen, content-hashed, and rebuildable.

:func:`snapshot_freeze` freezes the project's examples into a content-hashed snapshot
(``generation.training.build_snapshot``) and keeps the ids of the examples it was built
from, so :func:`snapshot_rebuild` can build it again, to the same hash, whatever was
approved or excluded since (TrainingExample rows are never edited except for
``excluded``, which a rebuild ignores: the snapshot froze the examples it took).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.db.models import QuerySet

from generation.training import Snapshot, SnapshotIntegrityError, load_snapshot
from generation.training.pairing import ExampleRow
from generation.training.snapshot import FILES as SNAPSHOT_FILES
from generation.training.snapshot import MANIFEST as SNAPSHOT_MANIFEST
from studio.models import DatasetSnapshot, Project, TrainingExample
from studio.selectors.training import (
    ROW_FIELDS,
    example_rows,
    snapshot_from_rows,
    training_examples,
)

logger = logging.getLogger(__name__)

def snapshot_path(project_id: int, content_hash: str) -> Path:
    return Path(settings.DATASET_DIR) / str(project_id) / content_hash


def snapshot_freeze(*, project: Project) -> tuple[Snapshot, DatasetSnapshot]:
    """Freeze the project's examples into a snapshot folder and its row (idempotent:
    the same examples give the same hash, folder and row)."""
    snapshot, example_ids = snapshot_of(training_examples(project))
    return snapshot, snapshot_store(project=project, snapshot=snapshot,
                                    example_ids=example_ids)


def snapshot_build(*, project: Project) -> Snapshot:
    """The project's examples as a snapshot in memory (nothing written yet)."""
    return snapshot_of(training_examples(project))[0]


def training_readiness(*, project: Project) -> dict[str, int]:
    """What a retrain needs before the click: approved texts in the training split
    (``have`` of ``need``), ``more`` approvals to go (each new one lands in the training
    split nine times in ten, so this is a floor), and the preference pairs DPO needs.

    Counted on the snapshot a retrain would freeze now, so the page and the refusal
    agree; a project far over the minimum skips building it (the page stays cheap)."""
    from generation.training import MIN_PREFERENCE_EXAMPLES, MIN_SFT_EXAMPLES

    examples = training_examples(project)
    sft_rows = examples.filter(kind=TrainingExample.Kind.SFT).count()
    if sft_rows >= 4 * MIN_SFT_EXAMPLES:
        have, pairs = sft_rows, examples.filter(kind=TrainingExample.Kind.PREFERENCE).count()
    else:
        snapshot = snapshot_of(examples)[0]
        have, pairs = len(snapshot.sft_train), len(snapshot.preference_train)
    return {"have": have, "need": MIN_SFT_EXAMPLES, "more": max(0, MIN_SFT_EXAMPLES - have),
            "pairs": pairs, "pairs_need": MIN_PREFERENCE_EXAMPLES,
            "pairs_more": max(0, MIN_PREFERENCE_EXAMPLES - pairs)}


def snapshot_of(examples: QuerySet[TrainingExample]) -> tuple[Snapshot, list[int]]:
    return _snapshot_from_rows(example_rows(examples))


def _snapshot_from_rows(rows: Iterable[ExampleRow]) -> tuple[Snapshot, list[int]]:
    return snapshot_from_rows(rows)


def snapshot_store(
    *, project: Project, snapshot: Snapshot, example_ids: list[int]
) -> DatasetSnapshot:
    """Write the snapshot's files (atomically) and its row with the ids of the examples
    it was built from; idempotent per content hash (the first row's ids are kept: any
    set of rows with that hash rebuilds the same content)."""
    path = snapshot.write(snapshot_path(project.pk, snapshot.content_hash))
    row, created = DatasetSnapshot.objects.get_or_create(
        project=project,
        content_hash=snapshot.content_hash,
        defaults={"counts": snapshot.counts, "path": str(path), "example_ids": example_ids},
    )
    if not created and row.example_ids is None:
        # A snapshot made before ids were kept becomes rebuildable.
        DatasetSnapshot.objects.filter(pk=row.pk, example_ids__isnull=True).update(
            example_ids=example_ids
        )
        row.example_ids = example_ids
    return row


# Ids per query when a snapshot is rebuilt: well under SQLite's bound-parameter limit.
REBUILD_CHUNK = 5000


def _rows_by_ids(project_id: int, ids: list[int]) -> Iterator[ExampleRow]:
    """The project's example rows with these ids (ascending), ascending pk."""
    for start in range(0, len(ids), REBUILD_CHUNK):
        chunk = ids[start:start + REBUILD_CHUNK]
        yield from (TrainingExample.objects.filter(project_id=project_id, pk__in=chunk)
                    .order_by("pk").values_list(*ROW_FIELDS).iterator())


def snapshot_rebuild(snapshot: DatasetSnapshot) -> Snapshot:
    """Build ``snapshot`` again in memory from exactly the examples it was made of.

    Examples excluded or added since change nothing (``excluded`` is not read: the
    snapshot froze the examples it took). Raises SnapshotIntegrityError, saying what
    to do, when the snapshot kept no example ids (made before they were kept), when an
    example was deleted, or when the rebuilt content does not give the recorded hash.
    """
    name = snapshot.content_hash[:12]
    if snapshot.example_ids is None:
        raise SnapshotIntegrityError(
            f"Snapshot {name} cannot be rebuilt: it was made before snapshots kept their "
            "example ids. Start a new training job (it freezes a new snapshot)."
        )
    wanted = sorted({int(i) for i in snapshot.example_ids})
    rows = list(_rows_by_ids(snapshot.project_id, wanted))
    found = {row[0] for row in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        shown = ", ".join(str(i) for i in missing[:10]) + (", …" if len(missing) > 10 else "")
        raise SnapshotIntegrityError(
            f"Snapshot {name} cannot be rebuilt: {len(missing)} of its {len(wanted)} "
            f"training examples were deleted (ids {shown}). Start a new training job on "
            "the project's current examples."
        )
    rebuilt, _ = _snapshot_from_rows(rows)
    if rebuilt.content_hash != snapshot.content_hash:
        raise SnapshotIntegrityError(
            f"Snapshot {name} cannot be rebuilt: its {len(wanted)} examples now give "
            f"content hash {rebuilt.content_hash[:12]} (an example's text was changed "
            "outside the studio). Start a new training job on the current examples."
        )
    return rebuilt


def snapshot_files(snapshot: DatasetSnapshot) -> tuple[Snapshot, bool]:
    """The snapshot as the trainer reads it, and whether it had to be rebuilt.

    Read from its folder, verified against its manifest and content hash. When the
    folder or one of its files is gone (a cleanup, a lost disk, a worker on another
    machine) it is rebuilt with :func:`snapshot_rebuild` and written again, a partial
    folder kept aside. A file that is there but does not match the manifest (edited or
    truncated) is not papered over: SnapshotIntegrityError, as when it cannot be rebuilt.
    """
    path = (Path(snapshot.path) if snapshot.path
            else snapshot_path(snapshot.project_id, snapshot.content_hash))
    names = [SNAPSHOT_MANIFEST, *SNAPSHOT_FILES.values()]
    if all((path / name).is_file() for name in names):
        loaded = load_snapshot(path)
        if loaded.content_hash != snapshot.content_hash:
            raise SnapshotIntegrityError(
                f"{path} holds snapshot {loaded.content_hash[:12]}, not "
                f"{snapshot.content_hash[:12]}."
            )
        return loaded, False
    logger.warning("snapshot %s missing at %s; rebuilding it from its examples",
                   snapshot.content_hash[:12], path)
    rebuilt = snapshot_rebuild(snapshot)
    if path.exists():
        path.rename(path.with_name(f"{path.name}.partial-{uuid.uuid4().hex[:8]}"))
    rebuilt.write(path)
    return rebuilt, True
