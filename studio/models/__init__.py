"""The nouns of the studio, one module per group (see design.md, "Domain model")."""

from .accounts import Account, ApiToken
from .ad_results import AdResult
from .audit import AuditEvent
from .briefs import Brief, GenerationJob
from .drafts import Draft
from .knowledge import KnowledgeDocument, KnowledgePassage, KnowledgeUse
from .notes import PreferenceNote
from .notifications import Notification, NotificationKind, NotificationPreference
from .projects import Project
from .reviews import Review, ReviewAction
from .teams import Membership, Role, Team
from .training import DatasetSnapshot, ModelVersion, TrainingExample, TrainingJob

__all__ = [
    "Account",
    "ApiToken",
    "AdResult",
    "AuditEvent",
    "Brief",
    "DatasetSnapshot",
    "Draft",
    "GenerationJob",
    "KnowledgeDocument",
    "KnowledgePassage",
    "KnowledgeUse",
    "Membership",
    "Notification",
    "NotificationKind",
    "NotificationPreference",
    "PreferenceNote",
    "ModelVersion",
    "Project",
    "Review",
    "ReviewAction",
    "Role",
    "Team",
    "TrainingExample",
    "TrainingJob",
]
