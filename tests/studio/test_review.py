"""The review workspace: claims, decisions, conflicts, training data, the queue."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import Http404
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from studio.models import AuditEvent, Brief, Draft, Review, Role, TrainingExample
from studio.selectors.reviews import QueueFilters, review_queue, word_diff
from studio.services.reviews import (
    DraftClaimed,
    DraftConflict,
    DraftDecided,
    draft_claim,
    review_approve,
    review_reject,
    review_save_edit,
)
from tests.conftest import World
from tests.factories import (
    BriefFactory,
    DraftFactory,
    GenerationJobFactory,
    MembershipFactory,
    ModelVersionFactory,
)

pytestmark = pytest.mark.django_db

HX = {"HX-Request": "true", "HX-Target": "workspace"}


def _url(name: str, draft: Draft) -> str:
    return reverse(name, kwargs={"draft_id": draft.pk})


def _drafts(world: World, n: int, **brief_fields: Any) -> list[Draft]:
    job = GenerationJobFactory(brief=BriefFactory(project=world.project, variants=min(n, 8),
                                                  **brief_fields))
    return [DraftFactory(job=job, variant=i) for i in range(n)]


# Claims -------------------------------------------------------------------------------


def _claim(client: Client, draft: Draft, **data: Any) -> Any:
    """What the review page does as it loads: POST its claim form with htmx."""
    return client.post(_url("draft_claim", draft), data, headers={"HX-Request": "true"})


def test_it_claims_a_draft_for_one_editor_and_shows_it_to_others(
    client: Client, world: World
) -> None:
    client.force_login(world.editor)
    page = client.get(_url("draft_review", world.draft)).content.decode()
    assert f'hx-post="{_url("draft_claim", world.draft)}" hx-trigger="load"' in page
    response = _claim(client, world.draft)
    assert response.status_code == 200
    assert 'id="claim"' in response.content.decode() and "Kept for you until" in (
        response.content.decode())
    world.draft.refresh_from_db()
    assert world.draft.claimed_by == world.editor
    assert world.draft.claimed_until > timezone.now() + timedelta(seconds=60)

    client.force_login(world.admin)
    body = client.get(_url("draft_review", world.draft)).content.decode()
    assert "Being reviewed by <strong>editor-a</strong>" in body
    assert 'id="claim"' not in body  # nothing to claim: the buttons are off
    world.draft.refresh_from_db()
    assert world.draft.claimed_by == world.editor
    # The queue shows the claim too.
    body = client.get(reverse("review_queue")).content.decode()
    assert "Being reviewed by editor-a" in body


def test_opening_a_draft_or_moving_on_by_get_changes_nothing(
    client: Client, world: World
) -> None:
    second = DraftFactory(job=world.job, variant=1)
    draft_claim(user=world.editor, draft_id=world.draft.pk)
    client.force_login(world.editor)
    # A link (cross-site or not) to the next draft "from" the claimed one.
    response = client.get(_url("draft_review", second) + f"?from={world.draft.pk}")
    assert response.status_code == 200
    world.draft.refresh_from_db()
    second.refresh_from_db()
    assert world.draft.claimed_by == world.editor and second.claimed_by is None
    # The page's own claim POST carries "from": that gives the first draft back.
    assert f'name="from" value="{world.draft.pk}"' in response.content.decode()
    _claim(client, second, **{"from": world.draft.pk})
    world.draft.refresh_from_db()
    second.refresh_from_db()
    assert world.draft.claimed_by is None and second.claimed_by == world.editor


def test_a_cross_site_claim_post_is_refused(world: World) -> None:
    forger = Client(enforce_csrf_checks=True)
    forger.force_login(world.editor)
    second = DraftFactory(job=world.job, variant=1)
    draft_claim(user=world.editor, draft_id=second.pk)
    response = forger.post(_url("draft_claim", world.draft), {"from": second.pk})
    assert response.status_code == 403
    world.draft.refresh_from_db()
    second.refresh_from_db()
    assert world.draft.claimed_by is None and second.claimed_by == world.editor
    assert forger.get(_url("draft_claim", world.draft)).status_code == 405


def test_a_claim_lost_to_another_editor_shows_the_workspace_read_only(
    client: Client, world: World
) -> None:
    client.force_login(world.admin)
    page = client.get(_url("draft_review", world.draft)).content.decode()
    assert 'id="claim"' in page
    # Between the page load and its claim POST, the editor takes the draft.
    draft_claim(user=world.editor, draft_id=world.draft.pk)
    response = _claim(client, world.draft)
    body = response.content.decode()
    assert response["HX-Retarget"] == "#workspace" and response["HX-Reswap"] == "outerHTML"
    assert "Being reviewed by <strong>editor-a</strong>" in body
    assert '<fieldset class="decision-buttons" disabled>' in body
    assert 'id="claim"' not in body  # no second claim attempt
    world.draft.refresh_from_db()
    assert world.draft.claimed_by == world.editor


def test_it_lets_a_claim_expire_by_itself(world: World) -> None:
    assert draft_claim(user=world.editor, draft_id=world.draft.pk).mine
    assert not draft_claim(user=world.admin, draft_id=world.draft.pk).mine
    Draft.objects.filter(pk=world.draft.pk).update(
        claimed_until=timezone.now() - timedelta(seconds=1)
    )
    assert draft_claim(user=world.admin, draft_id=world.draft.pk).mine


def test_it_refuses_a_claim_on_another_teams_draft(client: Client, world: World) -> None:
    with pytest.raises(Http404):
        draft_claim(user=world.outsider, draft_id=world.draft.pk)
    client.force_login(world.outsider)
    assert client.get(_url("draft_review", world.draft)).status_code == 404
    world.draft.refresh_from_db()
    assert world.draft.claimed_by is None


def test_it_refuses_a_decision_while_another_editor_holds_the_claim(world: World) -> None:
    draft_claim(user=world.editor, draft_id=world.draft.pk)
    with pytest.raises(DraftClaimed, match="editor-a is reviewing"):
        review_approve(user=world.admin, draft_id=world.draft.pk, version=1)
    assert Review.objects.count() == 0


# Decisions and training data ------------------------------------------------------------


def test_it_approves_with_a_review_an_audit_row_and_an_sft_example(
    client: Client, world: World
) -> None:
    Draft.objects.filter(pk=world.draft.pk).update(
        text="Mail ana@example.com about the roast.",
        current_text="Mail ana@example.com about the roast.",
        prompt="Write to 555-123-4567 about coffee",
    )
    client.force_login(world.editor)
    response = client.post(_url("draft_approve", world.draft), {"version": 1})
    assert response.status_code == 302
    world.draft.refresh_from_db()
    assert world.draft.status == "approved"
    assert world.draft.version == 2
    assert world.draft.claimed_by is None
    review = Review.objects.get(draft=world.draft)
    assert review.action == "approve"
    assert review.draft_version == 1
    assert AuditEvent.objects.filter(verb="draft.approve", object_id=str(world.draft.pk)).count() == 1
    example = TrainingExample.objects.get()
    assert example.kind == "sft"
    assert example.source_review == review
    assert example.content_kind == world.brief.kind
    assert example.completion == "Mail [email] about the roast."
    assert example.prompt == [{"role": "user", "content": "Write to [phone] about coffee"}]


def test_it_approves_with_edits_and_adds_a_preference_pair(world: World) -> None:
    review = review_approve(user=world.editor, draft_id=world.draft.pk, version=1,
                            text="A warm, plain note about our coffee.")
    assert review.action == "approve_edited"
    assert review.final_text == "A warm, plain note about our coffee."
    world.draft.refresh_from_db()
    assert world.draft.current_text == "A warm, plain note about our coffee."
    assert world.draft.text == "A warm, plain draft about coffee."
    kinds = dict(TrainingExample.objects.values_list("kind", "rejected_completion"))
    assert set(kinds) == {"sft", "preference"}
    assert kinds["preference"] == "A warm, plain draft about coffee."
    assert TrainingExample.objects.filter(source_review=review).count() == 2


def _form(body: str, form_id: str) -> str:
    start = body.index(f'<form id="{form_id}"')
    return body[start:body.index("</form>", start)]


def test_it_offers_a_comment_with_approve_and_keeps_it_on_the_review(
    client: Client, world: World
) -> None:
    client.force_login(world.editor)
    body = client.get(_url("draft_review", world.draft)).content.decode()
    approve_form = _form(body, "review-form")
    assert '<textarea id="approve-comment" name="comment"' in approve_form
    assert 'name="comment"' in _form(body, "reject-form")  # the reject form keeps its own

    response = client.post(_url("draft_approve", world.draft),
                           {"version": 1, "comment": "Lovely opening line."})
    assert response.status_code == 302
    review = Review.objects.get(draft=world.draft)
    assert (review.action, review.comment) == ("approve", "Lovely opening line.")


def test_it_takes_a_comment_when_approving_with_edits(client: Client, world: World) -> None:
    client.force_login(world.editor)
    response = client.post(_url("draft_approve", world.draft),
                           {"version": 1, "text": "A warmer note about coffee.",
                            "comment": "Warmed up the close."}, headers=HX)
    assert response.status_code == 200
    review = Review.objects.get(draft=world.draft)
    assert (review.action, review.comment) == ("approve_edited", "Warmed up the close.")
    assert review.final_text == "A warmer note about coffee."


def test_it_keeps_a_refused_approve_comment_next_to_the_approve_button(
    client: Client, world: World
) -> None:
    client.force_login(world.editor)
    comment = "<b>long</b>" + "x" * 4000
    response = client.post(_url("draft_approve", world.draft),
                           {"version": 1, "text": "My edit.", "comment": comment}, headers=HX)
    assert response.status_code == 422
    body = response.content.decode()
    approve_form = _form(body, "review-form")
    assert 'id="approve-comment-error"' in approve_form
    assert f">{comment.replace('<', '&lt;').replace('>', '&gt;')}</textarea>" in approve_form
    assert '<details id="reject-panel" class="reject-panel" >' in body  # stays closed
    assert ">My edit.</textarea>" in body
    assert not Review.objects.exists()


def test_it_keeps_a_refused_reject_comment_in_the_reject_panel(
    client: Client, world: World
) -> None:
    client.force_login(world.editor)
    response = client.post(_url("draft_reject", world.draft),
                           {"version": 1, "reason_tags": ["bogus"], "comment": "Not us."},
                           headers=HX)
    assert response.status_code == 422
    body = response.content.decode()
    assert '<details id="reject-panel" class="reject-panel" open>' in body
    assert ">Not us.</textarea>" in _form(body, "reject-form")
    assert '<textarea id="approve-comment" name="comment" rows="2" maxlength="4000" ></textarea>' in body


def test_it_uses_the_drafts_chat_messages_as_the_prompt(world: World) -> None:
    messages = [{"role": "system", "content": "Be warm."},
                {"role": "user", "content": "Call +44 20 7946 0958"}]
    Draft.objects.filter(pk=world.draft.pk).update(params={"messages": messages})
    review_approve(user=world.editor, draft_id=world.draft.pk, version=1)
    example = TrainingExample.objects.get()
    assert example.prompt == [{"role": "system", "content": "Be warm."},
                              {"role": "user", "content": "Call [phone]"}]


def test_it_rejects_with_reasons_and_adds_a_negative_example(client: Client, world: World) -> None:
    client.force_login(world.editor)
    response = client.post(_url("draft_reject", world.draft),
                           {"version": 1, "reason_tags": ["tone", "too_long"],
                            "comment": "Too chatty."})
    assert response.status_code == 302
    world.draft.refresh_from_db()
    assert world.draft.status == "rejected"
    review = Review.objects.get()
    assert (review.action, review.reason_tags, review.comment) == (
        "reject", ["tone", "too_long"], "Too chatty.")
    example = TrainingExample.objects.get()
    assert example.kind == "negative"
    assert example.rejected_completion == world.draft.text
    assert example.reason_tags == ["tone", "too_long"]
    assert AuditEvent.objects.filter(verb="draft.reject").count() == 1


def test_it_refuses_reason_tags_not_in_the_list(client: Client, world: World) -> None:
    client.force_login(world.editor)
    response = client.post(_url("draft_reject", world.draft),
                           {"version": 1, "reason_tags": ["tone", "<b>boring</b>"]}, headers=HX)
    assert response.status_code == 422
    body = response.content.decode()
    assert "Unknown reason: &lt;b&gt;boring&lt;/b&gt;" in body
    world.draft.refresh_from_db()
    assert world.draft.status == "pending" and world.draft.version == 1
    assert not Review.objects.exists() and not TrainingExample.objects.exists()


def test_it_refuses_a_rejection_without_a_reason(world: World) -> None:
    with pytest.raises(ValidationError, match="at least one reason"):
        review_reject(user=world.editor, draft_id=world.draft.pk, version=1, reason_tags=[])


def test_it_refuses_an_edit_to_empty_text(client: Client, world: World) -> None:
    client.force_login(world.editor)
    response = client.post(_url("draft_save", world.draft), {"version": 1, "text": "  \n "},
                           headers=HX)
    assert response.status_code == 422
    assert "The text is empty" in response.content.decode()
    world.draft.refresh_from_db()
    assert world.draft.version == 1 and world.draft.current_text == world.draft.text
    assert not Review.objects.exists()


def test_it_refuses_an_approve_on_a_draft_already_decided(client: Client, world: World) -> None:
    review_reject(user=world.admin, draft_id=world.draft.pk, version=1, reason_tags=["tone"])
    client.force_login(world.editor)
    response = client.post(_url("draft_approve", world.draft), {"version": 2}, headers=HX)
    assert response.status_code == 409
    assert "already rejected by admin-a" in response.content.decode()
    world.draft.refresh_from_db()
    assert world.draft.status == "rejected"
    assert Review.objects.count() == 1
    assert TrainingExample.objects.filter(kind="sft").count() == 0


def test_it_keeps_the_revision_history(client: Client, world: World) -> None:
    review_save_edit(user=world.editor, draft_id=world.draft.pk, version=1, text="First edit.")
    review_save_edit(user=world.editor, draft_id=world.draft.pk, version=2, text="Second edit.")
    review_approve(user=world.editor, draft_id=world.draft.pk, version=3)
    assert list(Review.objects.order_by("draft_version").values_list("action", "final_text")) == [
        ("edit", "First edit."), ("edit", "Second edit."), ("approve_edited", "Second edit.")]
    client.force_login(world.editor)
    body = client.get(_url("draft_review", world.draft)).content.decode()
    assert "First edit." in body and "Second edit." in body
    assert "This draft was approved" in body


def test_it_moves_the_brief_to_done_when_every_draft_is_decided(world: World) -> None:
    other = DraftFactory(job=world.job, variant=1)
    review_approve(user=world.editor, draft_id=world.draft.pk, version=1)
    world.brief.refresh_from_db()
    assert world.brief.status == Brief.Status.IN_REVIEW
    review_reject(user=world.editor, draft_id=other.pk, version=1, reason_tags=["tone"])
    world.brief.refresh_from_db()
    assert world.brief.status == Brief.Status.DONE
    assert AuditEvent.objects.filter(verb="brief.done").count() == 1


# No lost work -------------------------------------------------------------------------


def test_it_shows_a_conflict_with_both_texts_and_keeps_the_editors_text(
    client: Client, world: World
) -> None:
    review_save_edit(user=world.admin, draft_id=world.draft.pk, version=1, text="Their text.")
    Draft.objects.filter(pk=world.draft.pk).update(claimed_by=None, claimed_until=None)
    client.force_login(world.editor)
    response = client.post(_url("draft_save", world.draft),
                           {"version": 1, "text": "My <b>own</b> text."}, headers=HX)
    assert response.status_code == 409
    body = response.content.decode()
    assert "changed since you opened it" in body
    assert '<div class="draft-text prewrap" id="conflict-theirs">Their text.</div>' in body
    assert '<div class="draft-text prewrap" id="conflict-yours">My &lt;b&gt;own&lt;/b&gt; text.</div>' in body
    assert ">My &lt;b&gt;own&lt;/b&gt; text.</textarea>" in body
    # The form now carries the current version, so saving again keeps the editor's text.
    assert 'name="version" value="2"' in body
    world.draft.refresh_from_db()
    assert world.draft.current_text == "Their text." and world.draft.version == 2
    response = client.post(_url("draft_save", world.draft),
                           {"version": 2, "text": "My own text."}, headers=HX)
    assert response.status_code == 200
    world.draft.refresh_from_db()
    assert world.draft.current_text == "My own text." and world.draft.version == 3


def test_it_lets_one_of_approve_and_reject_at_the_same_version_win(world: World) -> None:
    review_approve(user=world.editor, draft_id=world.draft.pk, version=1)
    with pytest.raises(DraftDecided):
        review_reject(user=world.admin, draft_id=world.draft.pk, version=1, reason_tags=["tone"])
    with pytest.raises((DraftDecided, DraftConflict)):
        review_approve(user=world.admin, draft_id=world.draft.pk, version=1)
    world.draft.refresh_from_db()
    assert world.draft.status == "approved"
    assert Review.objects.count() == 1
    assert TrainingExample.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_lets_one_winner_through_when_threads_race(world: World) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def decide(i: int) -> None:
        try:
            barrier.wait()
            if i % 2:
                review_reject(user=world.editor, draft_id=world.draft.pk, version=1,
                              reason_tags=["tone"])
            else:
                review_approve(user=world.admin, draft_id=world.draft.pk, version=1)
            outcomes.append("won")
        except (DraftDecided, DraftConflict, DraftClaimed):
            outcomes.append("lost")
        finally:
            connection.close()

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["lost", "lost", "lost", "won"]
    assert Review.objects.filter(draft=world.draft).count() == 1
    assert TrainingExample.objects.filter(source_review__draft=world.draft).count() == 1
    world.draft.refresh_from_db()
    assert world.draft.version == 2


# Next draft, queue -------------------------------------------------------------------


def test_it_loads_the_next_draft_after_a_decision_without_a_reload(
    client: Client, world: World
) -> None:
    second = DraftFactory(job=world.job, variant=1)
    client.force_login(world.editor)
    response = client.post(_url("draft_approve", world.draft), {"version": 1}, headers=HX)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body
    assert f'data-draft="{second.pk}"' in body
    assert "Approved “" in body
    assert response["HX-Push-Url"] == _url("draft_review", second)
    second.refresh_from_db()
    assert second.claimed_by == world.editor


def test_it_skips_drafts_another_editor_holds_when_loading_the_next(
    client: Client, world: World
) -> None:
    held = DraftFactory(job=world.job, variant=1)
    free = DraftFactory(job=world.job, variant=2)
    draft_claim(user=world.admin, draft_id=held.pk)
    client.force_login(world.editor)
    response = client.post(_url("draft_approve", world.draft), {"version": 1}, headers=HX)
    assert f'data-draft="{free.pk}"' in response.content.decode()


def test_it_says_the_queue_is_clear_after_the_last_draft(client: Client, world: World) -> None:
    client.force_login(world.editor)
    response = client.post(_url("draft_approve", world.draft), {"version": 1}, headers=HX)
    assert "Queue clear" in response.content.decode()
    assert response["HX-Push-Url"] == reverse("review_queue")


def test_it_orders_the_queue_by_deadline_then_age_and_pages_by_keyset(world: World) -> None:
    now = timezone.now()
    late = _drafts(world, 1, deadline=now + timedelta(days=3))[0]
    soon = _drafts(world, 1, deadline=now + timedelta(hours=2))[0]
    old = _drafts(world, 1)[0]
    Draft.objects.filter(pk=old.pk).update(created_at=now - timedelta(days=2))
    Draft.objects.filter(pk=world.draft.pk).update(created_at=now - timedelta(days=1))
    page = review_queue(user=world.editor, team=world.team, filters=QueueFilters.from_query({}),
                        size=2)
    assert [d.pk for d in page.rows] == [soon.pk, late.pk]
    assert page.has_next
    page = review_queue(user=world.editor, team=world.team, filters=QueueFilters.from_query({}),
                        after=page.next_after, size=2)
    assert [d.pk for d in page.rows] == [old.pk, world.draft.pk]
    assert not page.has_next


def test_it_filters_the_queue_by_kind_flags_model_and_age(world: World) -> None:
    version = ModelVersionFactory(project=world.project)
    ad = _drafts(world, 1, kind="ad_copy")[0]
    flagged = _drafts(world, 1)[0]
    Draft.objects.filter(pk=flagged.pk).update(flag_codes=["banned_term"],
                                               flags=[{"code": "banned_term",
                                                       "message": "banned term 'cheap'"}])
    tuned = DraftFactory(job=GenerationJobFactory(brief=BriefFactory(project=world.project),
                                                  model_version=version), variant=0)
    Draft.objects.filter(pk=world.draft.pk).update(created_at=timezone.now() - timedelta(days=9))

    def ids(**params: str) -> set[int]:
        page = review_queue(user=world.editor, team=world.team,
                            filters=QueueFilters.from_query(params))
        return {d.pk for d in page.rows}

    assert ids(kind="ad_copy") == {ad.pk}
    assert ids(flag="banned_term") == {flagged.pk}
    assert ids(flag="any") == {flagged.pk}
    assert flagged.pk not in ids(flag="none")
    assert ids(model=str(version.pk)) == {tuned.pk}
    assert tuned.pk not in ids(model="base")
    assert ids(age="old") == {world.draft.pk}
    assert world.draft.pk not in ids(age="7d")
    # Unknown filters and values are ignored, not passed to the database.
    assert ids(kind="nope", ordering="created_by__password", flag="x") == ids()


def test_it_hides_other_teams_drafts_from_the_queue(client: Client, world: World) -> None:
    other = DraftFactory(job=GenerationJobFactory(brief=BriefFactory(project=world.other_project)),
                         variant=0)
    client.force_login(world.outsider)
    body = client.get(reverse("review_queue")).content.decode()
    assert f"row-{other.pk}" in body
    assert f"row-{world.draft.pk}" not in body
    assert world.brief.title not in body


def test_it_runs_a_constant_number_of_queries_on_the_queue(client: Client, world: World) -> None:
    client.force_login(world.editor)
    url = reverse("review_queue")
    _drafts(world, 4)
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        body = client.get(url).content.decode()
    assert body.count('class="queue-row') == 5
    version = ModelVersionFactory(project=world.project)
    for _ in range(5):
        _drafts(world, 8)
        DraftFactory(job=GenerationJobFactory(brief=BriefFactory(project=world.project),
                                              model_version=version), variant=0)
    with CaptureQueriesContext(connection) as many:
        body = client.get(url).content.decode()
    assert body.count('class="queue-row') == 25
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
    # Drafts with deadlines come first; when they fill the page the rest is not read.
    for _ in range(4):
        _drafts(world, 8, deadline=timezone.now() + timedelta(days=1))
    with CaptureQueriesContext(connection) as due:
        client.get(url)
    assert len(due) <= len(few)


def test_it_bulk_approves_and_skips_what_changed(client: Client, world: World) -> None:
    drafts = _drafts(world, 3)
    draft_claim(user=world.admin, draft_id=drafts[2].pk)
    review_save_edit(user=world.admin, draft_id=drafts[1].pk, version=1, text="Changed.")
    client.force_login(world.editor)
    response = client.post(reverse("review_bulk"), {
        "drafts": [f"{d.pk}:1" for d in drafts] + [f"{world.draft.pk}:1"],
        "action": "approve", "next": reverse("review_queue"),
    }, follow=True)
    body = response.content.decode()
    assert "Approved 2 drafts." in body
    assert body.count("skipped") == 2
    assert set(Draft.objects.filter(status="approved").values_list("pk", flat=True)) == {
        drafts[0].pk, world.draft.pk}


def test_it_bulk_rejects_with_a_reason(client: Client, world: World) -> None:
    drafts = _drafts(world, 2)
    client.force_login(world.editor)
    client.post(reverse("review_bulk"), {"drafts": [f"{d.pk}:1" for d in drafts],
                                         "action": "reject", "reason_tags": "off_brand"})
    assert list(Review.objects.values_list("reason_tags", flat=True)) == [["off_brand"]] * 2
    assert TrainingExample.objects.filter(kind="negative").count() == 2


def test_a_bulk_review_reports_a_draft_it_may_not_review_and_decides_the_rest(
    client: Client, world: World
) -> None:
    # The editor only markets in team B: that draft is skipped, the ones after it still go.
    MembershipFactory(team=world.other_team, user=world.editor, role=Role.MARKETER)
    theirs = DraftFactory(job=GenerationJobFactory(brief=BriefFactory(project=world.other_project)))
    mine = _drafts(world, 2)
    client.force_login(world.editor)
    response = client.post(reverse("review_bulk"), {
        "drafts": [f"{mine[0].pk}:1", f"{theirs.pk}:1", f"{mine[1].pk}:1"],
        "action": "approve", "next": reverse("review_queue"),
    }, follow=True)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Approved 2 drafts." in body
    assert f"Draft {theirs.pk} skipped: Your role in this draft" in body
    assert {d.status for d in Draft.objects.filter(pk__in=[m.pk for m in mine])} == {"approved"}
    assert Draft.objects.get(pk=theirs.pk).status == "pending"


def test_it_approves_from_a_queue_row(client: Client, world: World) -> None:
    client.force_login(world.editor)
    response = client.post(_url("draft_approve", world.draft), {"version": 1, "from": "queue"},
                           headers={"HX-Request": "true", "HX-Target": f"row-{world.draft.pk}"})
    assert response.status_code == 200
    assert "decided" in response.content.decode()
    response = client.post(_url("draft_approve", world.draft), {"version": 1, "from": "queue"},
                           headers={"HX-Request": "true", "HX-Target": f"row-{world.draft.pk}"})
    assert response.status_code == 409
    assert "already approved" in response.content.decode()


def test_it_refuses_marketers(client: Client, world: World) -> None:
    client.force_login(world.marketer)
    assert client.get(reverse("review_queue")).status_code == 403
    assert client.post(_url("draft_approve", world.draft), {"version": 1}).status_code == 403
    world.draft.refresh_from_db()
    assert world.draft.status == "pending"


# Diff and untrusted text ---------------------------------------------------------------


def test_it_builds_an_escaped_word_diff() -> None:
    html = str(word_diff("Buy <b>cheap</b> beans now", "Buy <i>fresh</i> beans"))
    assert "<b>" not in html and "<i>" not in html
    assert "<del>cheap</del>" in html and "<ins>fresh</ins>" in html
    assert "&lt;" in html
    assert str(word_diff("same", "same")) == "same"
    assert "<script>" not in str(word_diff("", "<script>alert(1)</script>"))


def test_it_shows_a_live_diff_of_the_edit(client: Client, world: World) -> None:
    client.force_login(world.editor)
    response = client.post(_url("draft_diff", world.draft),
                           {"text": "A warm, plain <em>note</em> about coffee."})
    body = response.content.decode()
    assert "<del>draft</del>" in body
    assert "<ins>&lt;em&gt;note&lt;/em&gt;</ins>" in body


XSS = [
    '<script>window.__xss=1</script>',
    '<img src=x onerror="window.__xss=2">',
    '<a href="javascript:alert(1)">click</a>',
    '<div hx-get="/admin/" hx-trigger="load" hx-on:click="alert(1)">x</div>',
    '[link](javascript:alert(1)) **bold** <iframe src=//evil>',
]


@pytest.mark.parametrize("payload", XSS)
def test_it_shows_untrusted_text_as_text_everywhere(
    client: Client, world: World, payload: str, admin_client: Client
) -> None:
    Brief.objects.filter(pk=world.brief.pk).update(title=f"T {payload}",
                                                   instructions=payload)
    Draft.objects.filter(pk=world.draft.pk).update(
        text=payload, current_text=payload,
        flags=[{"code": "style_rule", "message": payload, "span": [0, 5]}],
        flag_codes=["style_rule"],
    )
    review_save_edit(user=world.editor, draft_id=world.draft.pk, version=1,
                     text=payload + " edited " + payload)
    client.force_login(world.editor)
    pages = [
        client.get(reverse("review_queue")),
        client.get(_url("draft_review", world.draft)),
        client.post(_url("draft_diff", world.draft), {"text": "x " + payload}),
        client.get(reverse("brief_detail", kwargs={"brief_id": world.brief.pk})),
        client.get(reverse("brief_desk", kwargs={"project_id": world.project.pk})),
        admin_client.get(reverse("admin:studio_draft_change", args=[world.draft.pk])),
        admin_client.get(reverse("admin:studio_review_changelist")),
    ]
    for response in pages:
        assert response.status_code == 200
        body = response.content.decode()
        for raw in ("<script>window", "<img src=x", '<a href="javascript', "<div hx-get",
                    "<iframe"):
            assert raw not in body, (response.request["PATH_INFO"], raw)
