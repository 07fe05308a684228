"""Training data, retraining jobs and model versions: every write of issue 6.

One module per concern; the names views, the API, tasks and tests use are re-exported
here, so ``from studio.services.training import X`` keeps working.

* examples: admins exclude or include a project's training examples; excluded ones never
  reach a snapshot. What each example teaches (SFT, preference pair) is decided by
  ``generation.training.pairing``, which knows nothing of Django.
* snapshots: freeze a project's examples into a content-hashed snapshot that can be
  rebuilt, to the same hash, from the ids it kept.
* jobs: start, send, claim, progress, finish, cancel, reconcile and auto-retrain, on the
  lifecycle all jobs share (studio.services.jobs).
* versions: promote, roll back, use the base model, and load checks.
* checksums: the one-off upgrade of legacy adapter checksums.

No torch here: only the data side of ``generation.training`` is imported.
"""

from __future__ import annotations

from studio.models import TrainingJob
from studio.selectors.training import (
    EVAL_FRACTION,
    dataset_examples,
    examples_as_dataset,
    training_examples,
)
from studio.services.claims import Claim
from studio.services.training.checksums import (
    ChecksumOutcome,
    ChecksumUpgrade,
    adapter_checksums_upgrade,
)
from studio.services.training.examples import example_set_excluded
from studio.services.training.jobs import (
    LOG_TAIL_CHARS,
    TRAINING,
    training_auto_retrain,
    training_job_cancel,
    training_job_claim,
    training_job_fail,
    training_job_finish,
    training_job_heartbeat,
    training_job_inputs,
    training_job_log,
    training_job_progress,
    training_job_send,
    training_job_should_stop,
    training_job_snapshot,
    training_job_start,
    training_job_stopped,
    training_jobs_reconcile,
)
from studio.services.training.snapshots import (
    snapshot_build,
    snapshot_files,
    snapshot_freeze,
    snapshot_path,
    snapshot_rebuild,
    snapshot_store,
    training_readiness,
)
from studio.services.training.versions import (
    model_promote,
    model_rollback,
    model_use_base,
    model_version_check_record,
    model_version_check_request,
    model_version_check_send,
    model_version_check_target,
    model_version_load_failed,
)

# The statuses of a job not over yet (the model's: one home).
ACTIVE = TrainingJob.ACTIVE

__all__ = [
    "ACTIVE",
    "EVAL_FRACTION",
    "LOG_TAIL_CHARS",
    "TRAINING",
    "ChecksumOutcome",
    "ChecksumUpgrade",
    "Claim",
    "adapter_checksums_upgrade",
    "dataset_examples",
    "example_set_excluded",
    "examples_as_dataset",
    "model_promote",
    "model_rollback",
    "model_use_base",
    "model_version_check_record",
    "model_version_check_request",
    "model_version_check_send",
    "model_version_check_target",
    "model_version_load_failed",
    "snapshot_build",
    "snapshot_files",
    "snapshot_freeze",
    "snapshot_path",
    "snapshot_rebuild",
    "snapshot_store",
    "training_auto_retrain",
    "training_examples",
    "training_job_cancel",
    "training_job_claim",
    "training_job_fail",
    "training_job_finish",
    "training_job_heartbeat",
    "training_job_inputs",
    "training_job_log",
    "training_job_progress",
    "training_job_send",
    "training_job_should_stop",
    "training_job_snapshot",
    "training_job_start",
    "training_job_stopped",
    "training_readiness",
    "training_jobs_reconcile",
]
