"""Import a studio export (``studio.selectors.training.training_export``, format
``studio``) into another project of the same team.

The file is checked whole before anything is written: its header (format, version,
team, signature), every example line, and that its examples rebuild the snapshot whose
content hash the header names. Then, in one transaction, the examples the project does
not hold yet are added (identical ones it holds are reused, so importing twice adds
nothing) and the snapshot is stored for the project from exactly those rows: the same
content hash as the export. A file of another team, or a malformed or edited one, is
refused with the reason and nothing changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.crypto import constant_time_compare

from generation.training import InvalidExample, PreferenceExample, SFTExample
from generation.training.pairing import NEGATIVE, PREFERENCE, SFT
from studio.models import DatasetSnapshot, Project, TrainingExample
from studio.permissions import Need, project_for_user
from studio.selectors.training import (
    ROW_FIELDS,
    STUDIO_EXPORT_FORMAT,
    STUDIO_EXPORT_VERSION,
    export_signature,
    snapshot_from_rows,
)
from studio.services.audit import audit_record
from studio.services.errors import Refused
from studio.services.training.snapshots import snapshot_store

IMPORT_MAX_BYTES = 50 * 1024 * 1024
KINDS = (SFT, PREFERENCE, NEGATIVE)
CONTENT_KIND_MAX = TrainingExample._meta.get_field("content_kind").max_length or 20


@dataclass(frozen=True)
class ImportResult:
    snapshot: DatasetSnapshot
    created: int  # examples added to the project
    existing: int  # examples the project held already (reused)


def _bad(message: str) -> ValidationError:
    return ValidationError({"file": message})


def _header(line: str) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("format") != STUDIO_EXPORT_FORMAT:
        hint = ""
        if isinstance(header, dict) and ({"messages", "prompt", "input"} & set(header)):
            hint = (" This looks like a file for a trainer (SFT or DPO records); import the "
                    "“Studio export” download instead, which carries every example.")
        raise _bad("This is not a Content Studio export: its first line must be the export's "
                   "header." + hint)
    if header.get("version") != STUDIO_EXPORT_VERSION:
        raise _bad(f"This export is version {header.get('version')!r}; this studio reads "
                   f"version {STUDIO_EXPORT_VERSION}.")
    for name, kind in (("team", int), ("examples", int), ("content_hash", str),
                       ("signature", str)):
        if not isinstance(header.get(name), kind) or isinstance(header.get(name), bool):
            raise _bad(f"The export's header has no valid “{name}”.")
    return header


def _row(number: int, line: str) -> tuple[Any, ...]:
    """One example line as a row (id = its line number) ``pair_examples`` reads, plus
    its content kind and reason tags; raises ValidationError naming the line."""
    try:
        record = json.loads(line)
    except ValueError:
        raise _bad(f"Line {number} is not JSON.") from None
    if not isinstance(record, dict):
        raise _bad(f"Line {number} is not an example.")
    kind, prompt = record.get("kind"), record.get("prompt")
    completion = record.get("completion", "")
    rejected = record.get("rejected_completion", "")
    content_kind, tags = record.get("content_kind", ""), record.get("reason_tags", [])
    if kind not in KINDS:
        raise _bad(f"Line {number}: unknown kind {str(kind)[:40]!r}.")
    if not (isinstance(completion, str) and isinstance(rejected, str)
            and isinstance(content_kind, str) and len(content_kind) <= CONTENT_KIND_MAX
            and isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        raise _bad(f"Line {number}: the texts, content kind or reasons are not valid.")
    if any("\x00" in text for text in (completion, rejected)):
        raise _bad(f"Line {number} holds control characters.")
    try:
        if not isinstance(prompt, list):
            raise InvalidExample("the prompt is not a list of messages")
        if kind == SFT:
            SFTExample(prompt, completion)
        elif kind == PREFERENCE:
            PreferenceExample(prompt, completion, rejected)
        else:
            SFTExample(prompt, rejected)  # a rejected draft: a prompt and its text
    except (InvalidExample, AttributeError, TypeError) as exc:
        raise _bad(f"Line {number}: {exc}") from None
    plain = [{"role": m["role"], "content": m["content"]} for m in prompt]
    return (number, 0, kind, plain, completion, rejected, content_kind, tags)


def _parse(data: bytes) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
    if len(data) > IMPORT_MAX_BYTES:
        raise _bad(f"The file is larger than {IMPORT_MAX_BYTES // (1024 * 1024)} MB.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("The file is not UTF-8 text.") from None
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise _bad("The file is empty.")
    header = _header(lines[0])
    rows = [_row(number, line) for number, line in enumerate(lines[1:], start=2)]
    if len(rows) != header["examples"]:
        raise _bad(f"The export names {header['examples']} examples but holds {len(rows)} "
                   "(cut short or edited).")
    return header, rows


def _key(kind: str, prompt: Any, completion: str, rejected: str) -> str:
    return json.dumps([kind, prompt, completion, rejected], sort_keys=True, ensure_ascii=False)


def training_examples_import(*, user: Any, project_id: object, data: bytes) -> ImportResult:
    """Add a studio export's examples to the project (see the module's docstring)."""
    project: Project = project_for_user(user, project_id, need=Need.ADMIN)
    header, rows = _parse(data)
    if header["team"] != project.team_id:
        raise Refused("This file was exported from another team's project. Training data "
                      "never moves between teams; nothing was imported.", field="file")
    expected = export_signature(team_id=project.team_id, content_hash=header["content_hash"])
    if not constant_time_compare(expected, header["signature"]):
        raise Refused("The export's signature does not match: the file was changed after it "
                      "was exported, or comes from another studio. Nothing was imported.",
                      field="file")
    snapshot, _ = snapshot_from_rows(row[:6] for row in rows)
    if snapshot.content_hash != header["content_hash"]:
        raise Refused("The file's examples do not rebuild its snapshot "
                      f"{header['content_hash'][:12]} (edited or cut short); nothing was "
                      "imported.", field="file")
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        held = {_key(kind, prompt, completion, rejected): pk
                for pk, _, kind, prompt, completion, rejected in
                TrainingExample.objects.filter(project=project, excluded=False)
                .order_by("pk").values_list(*ROW_FIELDS)}
        ids: list[int] = []
        new: list[TrainingExample] = []
        for _, _, kind, prompt, completion, rejected, content_kind, tags in rows:
            pk = held.get(_key(kind, prompt, completion, rejected))
            if pk is not None:
                ids.append(pk)
                continue
            new.append(TrainingExample(project=project, kind=kind, content_kind=content_kind,
                                       prompt=prompt, completion=completion,
                                       rejected_completion=rejected, reason_tags=tags))
        created = TrainingExample.objects.bulk_create(new)
        ids = sorted(set(ids) | {example.pk for example in created})
        stored, _ = snapshot_from_rows(
            TrainingExample.objects.filter(pk__in=ids).order_by("pk").values_list(*ROW_FIELDS))
        if stored.content_hash != snapshot.content_hash:  # cannot happen: same content
            raise Refused("The imported examples did not rebuild the export's snapshot; "
                          "nothing was imported.", field="file")
        row = snapshot_store(project=project, snapshot=stored, example_ids=ids)
        audit_record(actor=user, team=project.team, verb="examples.import", obj=row,
                     after={"from_project": header.get("project"), "created": len(created),
                            "existing": len(rows) - len(created),
                            "content_hash": stored.content_hash})
    return ImportResult(snapshot=row, created=len(created), existing=len(rows) - len(created))
