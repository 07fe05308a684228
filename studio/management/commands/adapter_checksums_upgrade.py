"""Re-record legacy adapter checksums after upgrading the studio.

    python manage.py adapter_checksums_upgrade           # report only, changes nothing
    python manage.py adapter_checksums_upgrade --apply   # re-record, one audit row each

Earlier releases recorded the sha256 of each adapter's weights file alone; the studio
now records one sha256 over ``adapter_config.json`` and the weights, and refuses the
old records. This re-records a version only while its weights still match the old
checksum. Versions whose files changed or are gone are named and left as is, and the
command exits non-zero so an operator notices: retrain those projects. Safe to run
again: current records are reported as such.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from studio.services.training import ChecksumOutcome, adapter_checksums_upgrade


class Command(BaseCommand):
    help = ("Re-record legacy weights-only adapter checksums of model versions whose "
            "weights still match (dry run unless --apply).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--apply", action="store_true",
                            help="write the new checksums (without it, only report)")

    def handle(self, *args: Any, **options: Any) -> None:
        apply = bool(options["apply"])
        results = adapter_checksums_upgrade(apply=apply)
        for version, outcome, detail in results:
            line = (f"project {version.project_id} ({version.project.name}) "
                    f"v{version.number}: {outcome}")
            if outcome.refused:
                line += f", refused and left as is: {detail}"
            self.stdout.write(line)
        counts = {o: sum(1 for r in results if r.outcome == o) for o in ChecksumOutcome}
        summary = ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "no versions"
        self.stdout.write(f"{len(results)} version(s) with an adapter: {summary}.")
        if counts[ChecksumOutcome.WOULD_UPGRADE]:
            self.stdout.write("Nothing was changed; run again with --apply to re-record them.")
        refused = [r for r in results if r.outcome.refused]
        if refused:
            raise CommandError(
                f"{len(refused)} version(s) refused: "
                + ", ".join(f"project {r.version.project_id} v{r.version.number}"
                            for r in refused)
                + ". See the lines above: an adapter whose files changed or are gone "
                "cannot be loaded; retrain its project."
            )
