"""Review decisions: claim, save an edit, approve, reject, A/B picks.

Every decision is one conditional UPDATE on the draft (``WHERE version = <the version
the editor saw> AND status = 'pending'``), one append-only Review row, one AuditEvent
and the training examples the decision teaches, all in one transaction. Two requests
made at the same version (approve racing reject, two editors saving) end with exactly
one winner; the loser gets a :class:`ReviewError` that says why, and nothing changes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import Http404
from django.utils import timezone

from generation.editcost import edit_cost
from generation.training import plain_turns, scrub_messages, scrub_personal_data
from studio.models import Brief, Draft, GenerationJob, Review, ReviewAction, TrainingExample
from studio.models.reviews import REJECT_REASONS
from studio.permissions import Need, draft_for_user, teams_allowing
from studio.services.audit import audit_record
from studio.services.errors import Busy, Refused, Stale, StudioError, WrongState
from studio.services.notifications import notify_brief_decided
from studio.validators import clean_plain_text

COMMENT_MAX = 4000
TEXT_MAX = 100_000
BULK_MAX = 100


class ReviewError(StudioError):
    """A decision that cannot be made as asked. ``str(exc)`` is the message for the user;
    ``draft`` is the draft as it is now, when there is one."""

    def __init__(self, message: str, *, draft: Draft | None = None) -> None:
        super().__init__(message)
        self.draft = draft


class DraftDecided(ReviewError, WrongState):
    """The draft was approved or rejected already."""


class DraftClaimed(ReviewError, Busy):
    """Another editor holds the draft's claim."""


class DraftConflict(ReviewError, Stale):
    """The draft changed since the editor opened it; ``draft`` holds the current state."""


@dataclass
class ClaimResult:
    draft: Draft
    mine: bool


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


def draft_claim_or_refuse(*, user: Any, draft_id: int) -> Draft:
    """``draft_claim`` for callers that must hold the claim to go on (the API).

    Returns the claimed draft; raises ``DraftDecided`` for a draft no longer pending
    and ``DraftClaimed`` (naming the holder and until when) for one another editor holds.
    """
    for _attempt in range(2):
        claim = draft_claim(user=user, draft_id=draft_id)
        draft = claim.draft
        if claim.mine:
            return draft
        if draft.status != Draft.Status.PENDING:
            raise _refusal(draft.pk, draft.version, user)
        holder = claim_holder(draft, user)
        if holder is not None:
            until = timezone.localtime(draft.claimed_until)
            raise DraftClaimed(
                f"{holder.get_username()} is reviewing this draft until "
                f"{until:%H:%M:%S} ({until.tzname()}); try again after that.",
                draft=draft,
            )
        # The other claim ran out between the update and the read: ask once more.
    raise DraftClaimed("Another editor took this draft at the same moment; try again.",
                       draft=draft)


def _clean_text(text: str) -> str:
    text = clean_plain_text(text, field="text")
    if not text.strip():
        raise ValidationError({"text": "The text is empty. Write something, or reject the draft."})
    if len(text) > TEXT_MAX:
        raise ValidationError({"text": f"The text is longer than {TEXT_MAX:,} characters."})
    return text


def _clean_comment(comment: str) -> str:
    comment = clean_plain_text(comment, field="comment").strip()
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


def draft_prompt_messages(draft: Draft) -> list[dict[str, str]]:
    """The chat messages a draft was written from, scrubbed: a training example's prompt."""
    return _prompt_messages(draft)


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
    # A draft from before drafts kept their messages: its prompt text as rendered.
    return scrub_messages(plain_turns([{"role": "user", "content": draft.prompt}]))


def decision_fields(*, action: str, model_text: str, final_text: str) -> dict[str, Any]:
    """What a decision stores on its draft for the edit-cost figures: the action and, for
    an approval, the edit from the model's text to the approved text
    (``generation.editcost``: words for space-separated scripts, characters for CJK).
    A rejection has no final text, so no edit cost."""
    if action == ReviewAction.REJECT:
        return {"decision": action, "edit_distance": None, "edit_units": None,
                "edit_cost": None}
    cost = edit_cost(model_text, final_text)
    return {"decision": action, "edit_distance": cost.distance, "edit_units": cost.units,
            "edit_cost": cost.cost}


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
            **decision_fields(action=action, model_text=draft.text, final_text=final_text),
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
        notify_brief_decided(brief=draft.job.brief)


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


def clean_reason_tags(reason_tags: Sequence[str]) -> list[str]:
    tags = list(dict.fromkeys(t.strip() for t in reason_tags if t.strip()))
    unknown = [t for t in tags if t not in REJECT_REASONS]
    if unknown:
        raise ValidationError({"reason_tags": "Unknown reason: " + ", ".join(unknown)[:200]
                               + ". Choose from the list."})
    if not tags:
        raise ValidationError({"reason_tags": "Choose at least one reason."})
    return tags


def clean_rejection(reason_tags: Sequence[str], comment: str) -> tuple[list[str], str]:
    """A rejection's reasons and comment, checked: known reasons, a comment for "other"."""
    tags = clean_reason_tags(reason_tags)
    comment = _clean_comment(comment)
    if "other" in tags and not comment:
        raise ValidationError({"comment": "Say what is wrong when the reason is “Other”."})
    return tags, comment


def review_reject(
    *, user: Any, draft_id: int, version: int, reason_tags: list[str], comment: str = ""
) -> Review:
    """Reject the draft with reasons; the model's text becomes a negative example."""
    draft = draft_for_user(user, draft_id, need=Need.REVIEW)
    tags, comment = clean_rejection(reason_tags, comment)
    with transaction.atomic():
        review = _apply(user=user, draft=draft, version=version, action=ReviewAction.REJECT,
                        final_text=draft.current_text, reason_tags=tags, comment=comment)
        TrainingExample.objects.bulk_create([_example(
            draft, review, TrainingExample.Kind.NEGATIVE, completion="",
            rejected_completion=scrub_personal_data(draft.text), reason_tags=tags,
        )])
        _brief_done_if_decided(user=user, draft=draft)
    return review


BULK_ACTIONS = ("approve", "reject")


@dataclass(frozen=True)
class ReviewDecision:
    """One decision of a bulk request: ``action`` on ``draft_id`` as seen at ``version``."""

    draft_id: int
    action: str
    version: int
    reason_tags: tuple[str, ...] = ()
    comment: str = ""


class DecisionOutcome(enum.StrEnum):
    OK = "ok"  # decided
    STALE = "stale"  # the draft changed since that version (the single endpoints' 412)
    DECIDED = "decided"  # approved or rejected already (409)
    CLAIMED = "claimed"  # another editor holds its claim (409)
    NOT_FOUND = "not_found"  # no such draft, or not one of the user's teams' (404)
    FORBIDDEN = "forbidden"  # the user's role in the draft's team cannot review (403)


@dataclass(frozen=True)
class DecisionResult:
    decision: ReviewDecision
    outcome: DecisionOutcome
    detail: str
    # The draft as it is after the attempt; None when not found or forbidden.
    draft: Draft | None = None


class DecisionsInvalid(ValidationError):
    """Some decisions of a bulk request cannot be made as sent; nothing was written.
    ``item_errors[i]`` holds item i's field messages (empty for an item without fault)."""

    def __init__(self, item_errors: list[dict[str, list[str]]]) -> None:
        self.item_errors = item_errors
        bad = [i + 1 for i, errors in enumerate(item_errors) if errors]
        super().__init__({"items": f"Decisions {', '.join(map(str, bad[:20]))} need a look; "
                                   "nothing was changed."})


def review_decisions_clean(decisions: Sequence[ReviewDecision]) -> list[ReviewDecision]:
    """Check a bulk request's decisions as input, all of them before any is made."""
    if not decisions:
        raise ValidationError({"items": "Send at least one decision."})
    if len(decisions) > BULK_MAX:
        raise ValidationError({"items": f"Send at most {BULK_MAX} decisions at a time "
                                        f"({len(decisions)} sent)."})
    cleaned: list[ReviewDecision] = []
    item_errors: list[dict[str, list[str]]] = []
    seen: set[int] = set()
    for decision in decisions:
        errors: dict[str, list[str]] = {}
        tags: list[str] = []
        comment = decision.comment
        try:
            if decision.action == "reject":
                tags, comment = clean_rejection(decision.reason_tags, decision.comment)
            else:
                comment = _clean_comment(decision.comment)
        except ValidationError as exc:
            errors |= exc.message_dict
        if decision.action not in BULK_ACTIONS:
            errors["action"] = ["Choose approve or reject."]
        elif decision.action == "approve" and decision.reason_tags:
            errors["reason_tags"] = ["Reasons go with a rejection only."]
        if decision.draft_id in seen:
            errors["draft"] = ["This draft is in the request already; send one decision a draft."]
        seen.add(decision.draft_id)
        item_errors.append(errors)
        cleaned.append(replace(decision, reason_tags=tuple(tags), comment=comment))
    if any(item_errors):
        raise DecisionsInvalid(item_errors)
    return cleaned


def reviews_decide(*, user: Any, decisions: Sequence[ReviewDecision]) -> list[DecisionResult]:
    """Approve or reject many drafts, each at the version the editor saw (bulk review).

    The input is all or nothing: every decision is checked first (actions, reasons,
    comments, one decision a draft, at most ``BULK_MAX``) and one fault refuses the
    whole request with ``DecisionsInvalid`` before anything is written. The drafts'
    state is per decision: each is made as ``review_approve`` / ``review_reject`` make
    it, in its own transaction, so one draft that changed, was decided, is claimed by
    someone else, is not the user's to see or not theirs to review, is reported with
    its outcome and never half-written, and the others still go through.
    """
    if not teams_allowing(user, Need.REVIEW).exists():
        raise PermissionDenied("Your role does not allow reviewing drafts.")
    results: list[DecisionResult] = []
    for decision in review_decisions_clean(decisions):
        try:
            if decision.action == "approve":
                review_approve(user=user, draft_id=decision.draft_id, version=decision.version,
                               comment=decision.comment)
            else:
                review_reject(user=user, draft_id=decision.draft_id, version=decision.version,
                              reason_tags=list(decision.reason_tags), comment=decision.comment)
        except Http404:
            results.append(DecisionResult(decision, DecisionOutcome.NOT_FOUND, "Not found."))
            continue
        except PermissionDenied:
            results.append(DecisionResult(decision, DecisionOutcome.FORBIDDEN,
                                          "Your role in this draft's team does not allow "
                                          "reviewing it."))
            continue
        except ReviewError as exc:
            outcome = (DecisionOutcome.STALE if isinstance(exc, DraftConflict)
                       else DecisionOutcome.CLAIMED if isinstance(exc, DraftClaimed)
                       else DecisionOutcome.DECIDED)
            results.append(DecisionResult(decision, outcome, str(exc), exc.draft))
            continue
        draft = Draft.objects.select_related("claimed_by").get(pk=decision.draft_id)
        verb = "Approved" if decision.action == "approve" else "Rejected"
        results.append(DecisionResult(decision, DecisionOutcome.OK, f"{verb}.", draft))
    return results


def draft_set_ab_pick(*, user: Any, draft_id: int, picked: bool) -> Draft:
    """Mark (or unmark) a variant as one of the brief's A/B variants to run."""
    draft = draft_for_user(user, draft_id, need=Need.AB_TEST)
    if draft.status == Draft.Status.REJECTED and picked:
        raise Refused("A rejected draft cannot run; pick an approved or pending one.")
    with transaction.atomic():
        before = draft.ab_pick
        Draft.objects.filter(pk=draft.pk).update(ab_pick=picked)
        draft.ab_pick = picked
        audit_record(actor=user, team=draft.project.team, verb="draft.ab_pick", obj=draft,
                     before={"ab_pick": before}, after={"ab_pick": picked})
    return draft
