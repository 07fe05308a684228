"""Review decisions: claim, save an edit, approve, reject, A/B picks.

Every decision is one conditional UPDATE on the draft (``WHERE version = <the version
the editor saw> AND status = 'pending'``), one append-only Review row, one AuditEvent
and the training examples the decision teaches, all in one transaction. Two requests
made at the same version (approve racing reject, two editors saving) end with exactly
one winner; the loser gets a :class:`ReviewError` that says why, and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone

from generation.training import scrub_messages, scrub_personal_data
from studio.models import Brief, Draft, GenerationJob, Review, ReviewAction, TrainingExample
from studio.models.reviews import REJECT_REASONS
from studio.permissions import Need, draft_for_user
from studio.services.audit import audit_record

COMMENT_MAX = 4000
TEXT_MAX = 100_000
BULK_MAX = 100


class ReviewError(Exception):
    """A decision that cannot be made as asked. ``str(exc)`` is the message for the user."""

    def __init__(self, message: str, *, draft: Draft | None = None) -> None:
        super().__init__(message)
        self.draft = draft


class DraftDecided(ReviewError):
    """The draft was approved or rejected already."""


class DraftClaimed(ReviewError):
    """Another editor holds the draft's claim."""


class DraftConflict(ReviewError):
    """The draft changed since the editor opened it; ``draft`` holds the current state."""


@dataclass
class ClaimResult:
    draft: Draft
    mine: bool


@dataclass
class BulkResult:
    decided: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


def _claim_is_free(user: Any, now: Any) -> Q:
    return Q(claimed_by__isnull=True) | Q(claimed_until__lte=now) | Q(claimed_by=user)


def claim_holder(draft: Draft, user: Any) -> Any:
    """The other editor holding a live claim on the draft, or None."""
    if (
        draft.claimed_by_id
        and draft.claimed_by_id != user.pk
        and draft.claimed_until
        and draft.claimed_until > timezone.now()
    ):
        return draft.claimed_by
    return None


def draft_claim(*, user: Any, draft_id: int) -> ClaimResult:
    """Keep a pending draft for this editor for REVIEW_CLAIM_SECONDS.

    One conditional UPDATE, so two editors opening the draft at once never both get
    it; a claim whose time has passed is free again without anyone releasing it.
    """
    draft = draft_for_user(user, draft_id, need=Need.REVIEW)
    now = timezone.now()
    claimed = Draft.objects.filter(
        Q(pk=draft.pk, status=Draft.Status.PENDING) & _claim_is_free(user, now)
    ).update(claimed_by=user, claimed_until=now + timedelta(seconds=settings.REVIEW_CLAIM_SECONDS))
    draft = (
        Draft.objects.select_related("project__team", "job__brief", "job__model_version",
                                     "claimed_by")
        .get(pk=draft.pk)
    )
    return ClaimResult(draft=draft, mine=bool(claimed))


def draft_release(*, user: Any, draft_id: int) -> None:
    """Give up this editor's claim (skipping a draft), so others may take it at once."""
    draft = draft_for_user(user, draft_id, need=Need.REVIEW)
    Draft.objects.filter(pk=draft.pk, claimed_by=user).update(claimed_by=None, claimed_until=None)


def _clean_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise ValidationError({"text": "The text is empty. Write something, or reject the draft."})
    if len(text) > TEXT_MAX:
        raise ValidationError({"text": f"The text is longer than {TEXT_MAX:,} characters."})
    if "\x00" in text:
        raise ValidationError({"text": "Remove control characters from the text."})
    return text


def _clean_comment(comment: str) -> str:
    comment = comment.strip()
    if len(comment) > COMMENT_MAX:
        raise ValidationError({"comment": f"Keep the comment under {COMMENT_MAX:,} characters."})
    return comment


def _refusal(draft_id: int, version: int, user: Any) -> ReviewError:
    """Why a conditional update matched no row, read after the fact."""
    draft = Draft.objects.select_related("claimed_by").get(pk=draft_id)
    if draft.status != Draft.Status.PENDING:
        last = draft.reviews.select_related("reviewer").order_by("-draft_version").first()
        who = f" by {last.reviewer.get_username()}" if last else ""
        return DraftDecided(f"This draft was already {draft.status}{who}; nothing was changed.",
                            draft=draft)
    holder = claim_holder(draft, user)
    if holder is not None:
        return DraftClaimed(
            f"{holder.get_username()} is reviewing this draft; nothing was changed.", draft=draft
        )
    return DraftConflict(
        f"This draft changed since you opened it (version {version}, now {draft.version}). "
        "Compare the texts, then save again.",
        draft=draft,
    )


def _prompt_messages(draft: Draft) -> list[dict[str, str]]:
    messages = draft.params.get("messages") if isinstance(draft.params, dict) else None
    if (
        isinstance(messages, list)
        and messages
        and all(
            isinstance(m, dict) and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str)
            for m in messages
        )
    ):
        return scrub_messages([{"role": m["role"], "content": m["content"]} for m in messages])
    return scrub_messages([{"role": "user", "content": draft.prompt}])


def _apply(
    *,
    user: Any,
    draft: Draft,
    version: int,
    action: str,
    final_text: str,
    reason_tags: list[str] | None = None,
    comment: str = "",
) -> Review:
    """The conditional update + Review + audit shared by every decision. In a transaction."""
    now = timezone.now()
    decided = action != ReviewAction.EDIT
    updates: dict[str, Any] = {"version": F("version") + 1, "current_text": final_text}
    if decided:
        updates |= {
            "status": Draft.Status.REJECTED if action == ReviewAction.REJECT
            else Draft.Status.APPROVED,
            "decided_at": now,
            "claimed_by": None,
            "claimed_until": None,
        }
    else:
        updates |= {"claimed_by": user,
                    "claimed_until": now + timedelta(seconds=settings.REVIEW_CLAIM_SECONDS)}
    changed = Draft.objects.filter(
        Q(pk=draft.pk, version=version, status=Draft.Status.PENDING) & _claim_is_free(user, now)
    ).update(**updates)
    if not changed:
        raise _refusal(draft.pk, version, user)
    try:
        with transaction.atomic():
            review = Review.objects.create(
                draft=draft, reviewer=user, action=action, final_text=final_text,
                reason_tags=reason_tags or [], comment=comment, draft_version=version,
            )
    except IntegrityError as exc:  # the unique (draft, version) row: someone else won
        raise _refusal(draft.pk, version, user) from exc
    audit_record(
        actor=user, team=draft.project.team, verb=f"draft.{action}", obj=draft,
        before={"status": Draft.Status.PENDING, "version": version},
        after={"status": Draft.Status.PENDING if not decided else updates["status"],
               "version": version + 1, "review": review.pk,
               **({"reason_tags": reason_tags} if reason_tags else {})},
    )
    return review


def _brief_done_if_decided(*, user: Any, draft: Draft) -> None:
    brief_id = draft.job.brief_id
    if Draft.objects.filter(job__brief_id=brief_id, status=Draft.Status.PENDING).exists():
        return
    if GenerationJob.objects.filter(
        brief_id=brief_id,
        status__in=[GenerationJob.Status.QUEUED, GenerationJob.Status.RUNNING],
    ).exists():
        return
    if Brief.objects.filter(pk=brief_id, status=Brief.Status.IN_REVIEW).update(
        status=Brief.Status.DONE, updated_at=timezone.now()
    ):
        audit_record(actor=user, team=draft.project.team, verb="brief.done", obj=draft.job.brief,
                     before={"status": Brief.Status.IN_REVIEW},
                     after={"status": Brief.Status.DONE})


def _example(draft: Draft, review: Review, kind: str, **fields: Any) -> TrainingExample:
    return TrainingExample(
        project_id=draft.project_id, kind=kind, content_kind=draft.job.brief.kind,
        prompt=_prompt_messages(draft), source_review=review, **fields,
    )


def review_save_edit(*, user: Any, draft_id: int, version: int, text: str) -> Review:
    """Save the editor's text without deciding; the draft stays pending, version + 1."""
    draft = draft_for_user(user, draft_id, need=Need.REVIEW)
    text = _clean_text(text)
    with transaction.atomic():
        return _apply(user=user, draft=draft, version=version, action=ReviewAction.EDIT,
                      final_text=text)


def review_approve(
    *, user: Any, draft_id: int, version: int, text: str | None = None, comment: str = ""
) -> Review:
    """Approve the draft, with the editor's text when given.

    The text that differs from the model's becomes ``approve_edited``: an SFT example
    of the final text plus a preference pair (editor's text over the model's). Personal
    data is scrubbed from every stored example.
    """
    draft = draft_for_user(user, draft_id, need=Need.REVIEW)
    comment = _clean_comment(comment)
    if draft.status != Draft.Status.PENDING:
        raise _refusal(draft.pk, version, user)
    final = _clean_text(text) if text is not None else draft.current_text
    if draft.version != version:
        raise _refusal(draft.pk, version, user)
    edited = final != draft.text
    action = ReviewAction.APPROVE_EDITED if edited else ReviewAction.APPROVE
    with transaction.atomic():
        review = _apply(user=user, draft=draft, version=version, action=action,
                        final_text=final, comment=comment)
        examples = [_example(draft, review, TrainingExample.Kind.SFT,
                             completion=scrub_personal_data(final))]
        if edited:
            examples.append(_example(
                draft, review, TrainingExample.Kind.PREFERENCE,
                completion=scrub_personal_data(final),
                rejected_completion=scrub_personal_data(draft.text),
            ))
        TrainingExample.objects.bulk_create(examples)
        _brief_done_if_decided(user=user, draft=draft)
    return review


def clean_reason_tags(reason_tags: list[str]) -> list[str]:
    tags = list(dict.fromkeys(t.strip() for t in reason_tags if t.strip()))
    unknown = [t for t in tags if t not in REJECT_REASONS]
    if unknown:
        raise ValidationError({"reason_tags": "Unknown reason: " + ", ".join(unknown)[:200]
                               + ". Choose from the list."})
    if not tags:
        raise ValidationError({"reason_tags": "Choose at least one reason."})
    return tags


def review_reject(
    *, user: Any, draft_id: int, version: int, reason_tags: list[str], comment: str = ""
) -> Review:
    """Reject the draft with reasons; the model's text becomes a negative example."""
    draft = draft_for_user(user, draft_id, need=Need.REVIEW)
    tags = clean_reason_tags(reason_tags)
    comment = _clean_comment(comment)
    if "other" in tags and not comment:
        raise ValidationError({"comment": "Say what is wrong when the reason is “Other”."})
    with transaction.atomic():
        review = _apply(user=user, draft=draft, version=version, action=ReviewAction.REJECT,
                        final_text=draft.current_text, reason_tags=tags, comment=comment)
        TrainingExample.objects.bulk_create([_example(
            draft, review, TrainingExample.Kind.NEGATIVE, completion="",
            rejected_completion=scrub_personal_data(draft.text), reason_tags=tags,
        )])
        _brief_done_if_decided(user=user, draft=draft)
    return review


def reviews_bulk(
    *,
    user: Any,
    drafts: list[tuple[int, int]],
    action: str,
    reason_tags: list[str] | None = None,
    comment: str = "",
) -> BulkResult:
    """Approve or reject many drafts, each at the version the editor saw.

    Each draft is its own transaction: one that changed, was decided or is claimed by
    someone else is skipped with its reason, and the others still go through.
    """
    if action not in ("approve", "reject"):
        raise ValidationError({"action": "Choose approve or reject."})
    if not drafts:
        raise ValidationError({"drafts": "Select at least one draft."})
    if len(drafts) > BULK_MAX:
        raise ValidationError({"drafts": f"Select at most {BULK_MAX} drafts at a time."})
    if action == "reject":
        reason_tags = clean_reason_tags(reason_tags or [])
    result = BulkResult()
    for draft_id, version in drafts:
        try:
            if action == "approve":
                review_approve(user=user, draft_id=draft_id, version=version, comment=comment)
            else:
                review_reject(user=user, draft_id=draft_id, version=version,
                              reason_tags=reason_tags or [], comment=comment)
        except ReviewError as exc:
            result.skipped[draft_id] = str(exc)
        except Http404:
            result.skipped[draft_id] = "Not found."
        except ValidationError as exc:
            result.skipped[draft_id] = " ".join(exc.messages)
        else:
            result.decided.append(draft_id)
    return result


def draft_set_ab_pick(*, user: Any, draft_id: int, picked: bool) -> Draft:
    """Mark (or unmark) a variant as one of the brief's A/B variants to run."""
    draft = draft_for_user(user, draft_id, need=Need.SUBMIT)
    if draft.status == Draft.Status.REJECTED and picked:
        raise ValidationError("A rejected draft cannot run; pick an approved or pending one.")
    with transaction.atomic():
        before = draft.ab_pick
        Draft.objects.filter(pk=draft.pk).update(ab_pick=picked)
        draft.ab_pick = picked
        audit_record(actor=user, team=draft.project.team, verb="draft.ab_pick", obj=draft,
                     before={"ab_pick": before}, after={"ab_pick": picked})
    return draft
