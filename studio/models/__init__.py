"""The nouns of the studio, one module per group (see design.md, "Domain model")."""

from .ad_results import AdResult
from .audit import AuditEvent
from .briefs import Brief, GenerationJob
from .drafts import Draft
from .notifications import Notification, NotificationKind, NotificationPreference
from .projects import Project
from .reviews import Review, ReviewAction
from .teams import Membership, Role, Team
from .training import DatasetSnapshot, ModelVersion, TrainingExample, TrainingJob

__all__ = [
    "AdResult",
    "AuditEvent",
    "Brief",
    "DatasetSnapshot",
    "Draft",
    "GenerationJob",
    "Membership",
    "Notification",
    "NotificationKind",
    "NotificationPreference",
    "ModelVersion",
    "Project",
    "Review",
    "ReviewAction",
    "Role",
    "Team",
    "TrainingExample",
    "TrainingJob",
]
