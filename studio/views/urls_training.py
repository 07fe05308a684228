"""URLs of training data, retraining jobs and model versions."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from studio.views import training

urlpatterns: list[URLPattern | URLResolver] = [
    path("projects/<int:project_id>/training/", training.training_home, name="training_home"),
    path("projects/<int:project_id>/training/start/", training.training_start,
         name="training_start"),
    path("projects/<int:project_id>/training/examples/", training.training_examples,
         name="training_examples"),
    path("projects/<int:project_id>/training/export.jsonl", training.training_export,
         name="training_export"),
    path("projects/<int:project_id>/training/notes/", training.preference_notes,
         name="preference_notes"),
    path("projects/<int:project_id>/training/notes/decide/", training.preference_note_decide,
         name="preference_note_decide"),
    path("preference-notes/<int:note_id>/", training.preference_note_update,
         name="preference_note_update"),
    path("projects/<int:project_id>/training/import/", training.training_import,
         name="training_import"),
    path("training-examples/<int:example_id>/exclude/", training.training_example_exclude,
         name="training_example_exclude"),
    path("training-jobs/<int:job_id>/", training.training_job, name="training_job"),
    path("training-jobs/<int:job_id>/chart.json", training.training_job_chart,
         name="training_job_chart"),
    path("training-jobs/<int:job_id>/cancel/", training.training_job_cancel,
         name="training_job_cancel"),
    path("projects/<int:project_id>/models/", training.model_versions, name="model_versions"),
    path("projects/<int:project_id>/models/use-base/", training.model_use_base,
         name="model_use_base"),
    path("models/<int:version_id>/promote/", training.model_promote, name="model_promote"),
    path("models/<int:version_id>/rollback/", training.model_rollback, name="model_rollback"),
    path("models/<int:version_id>/check/", training.model_check, name="model_check"),
]
