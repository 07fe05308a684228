"""The one-off upgrade of legacy adapter checksums (``manage.py adapter_checksums_upgrade``).

:func:`adapter_checksums_upgrade` re-records versions whose sha256 is a legacy checksum
of the weights alone (see ``generation.adapters``), only while the weights still match
it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from django.db import transaction

from generation.adapters import adapter_sha256_upgrade
from generation.errors import AdapterChecksumError, AdapterError
from studio.models import ModelVersion
from studio.services.audit import audit_record


class ChecksumOutcome(StrEnum):
    CURRENT = "already current"
    WOULD_UPGRADE = "would upgrade"
    UPGRADED = "upgraded"
    # Refused, the record is left as is:
    CHANGED = "files changed"
    MISSING = "files missing"
    RECORD_CHANGED = "record changed meanwhile"

    @property
    def refused(self) -> bool:
        return self in (ChecksumOutcome.CHANGED, ChecksumOutcome.MISSING,
                        ChecksumOutcome.RECORD_CHANGED)


class ChecksumUpgrade(NamedTuple):
    version: ModelVersion
    outcome: ChecksumOutcome
    detail: str = ""


def adapter_checksums_upgrade(*, apply: bool) -> list[ChecksumUpgrade]:
    """Re-record every version whose adapter sha256 is a legacy weights-only checksum.

    A record is upgraded only while the weights file still matches it (the config was
    never covered: an operator who doubts it retrains instead). Versions whose files
    changed or are gone are refused and left as is. Without ``apply`` nothing is
    written. Each save is a conditional UPDATE on the old value with an audit row
    (actor None: an operator's command), so a second run, or one racing another,
    upgrades nothing twice.
    """
    versions = (ModelVersion.objects.exclude(adapter_path="")
                .select_related("project__team").order_by("project_id", "number"))
    results: list[ChecksumUpgrade] = []
    for version in versions.iterator():
        old = version.adapter_sha256
        try:
            new = adapter_sha256_upgrade(version.adapter_path, old)
        except AdapterChecksumError as exc:
            results.append(ChecksumUpgrade(version, ChecksumOutcome.CHANGED, str(exc)))
            continue
        except AdapterError as exc:
            results.append(ChecksumUpgrade(version, ChecksumOutcome.MISSING, str(exc)))
            continue
        if new == old.lower():
            results.append(ChecksumUpgrade(version, ChecksumOutcome.CURRENT))
        elif not apply:
            results.append(ChecksumUpgrade(version, ChecksumOutcome.WOULD_UPGRADE))
        else:
            results.append(_checksum_record(version=version, old=old, new=new))
    return results


def _checksum_record(*, version: ModelVersion, old: str, new: str) -> ChecksumUpgrade:
    with transaction.atomic():
        updated = ModelVersion.objects.filter(pk=version.pk, adapter_sha256=old).update(
            adapter_sha256=new
        )
        if not updated:
            now = ModelVersion.objects.filter(pk=version.pk).values_list(
                "adapter_sha256", flat=True
            ).first()
            if now == new:  # another run got there first
                return ChecksumUpgrade(version, ChecksumOutcome.CURRENT)
            return ChecksumUpgrade(version, ChecksumOutcome.RECORD_CHANGED,
                                   "the recorded sha256 changed while this ran; run again")
        audit_record(actor=None, team=version.project.team, verb="model.checksum_upgrade",
                     obj=version, before={"adapter_sha256": old},
                     after={"adapter_sha256": new})
    version.adapter_sha256 = new
    return ChecksumUpgrade(version, ChecksumOutcome.UPGRADED)

