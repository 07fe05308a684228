"""Preference notes: proposed from editors' recurring edits; an admin accepts, edits or
dismisses them; accepted notes reach the next job's prompt and checks at once."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from generation.checks import check_draft
from generation.prompts import system_message
from studio.models import AuditEvent, Draft, PreferenceNote
from studio.services.generation import job_inputs
from studio.services.reviews import review_approve
from studio.tasks.generation import to_request
from tests.conftest import World
from tests.factories import BriefFactory, DraftFactory, GenerationJobFactory

SIGN_OFF = "Cheers, the Alpha team"
EDITS = [
    ("Our world-class roast is ready.", "Our careful roast is ready. " + SIGN_OFF),
    ("A world-class cup, every morning.", "A careful cup, every morning. " + SIGN_OFF),
    ("Try the world-class blend today.", "Try the careful blend today. " + SIGN_OFF),
]


def _approve_with_edits(world: World, edits: list[tuple[str, str]] = EDITS) -> None:
    for text, final in edits:
        brief = BriefFactory(project=world.project, author=world.marketer)
        draft = DraftFactory(job=GenerationJobFactory(brief=brief), variant=0, text=text,
                             current_text=text)
        review_approve(user=world.editor, draft_id=draft.pk, version=draft.version, text=final)


def _page(client: Any, world: World) -> str:
    response = client.get(reverse("preference_notes", args=[world.project.pk]))
    assert response.status_code == 200
    return str(response.content.decode())


def _decide(client: Any, world: World, decision: str, kind: str, proposed_before: str,
            proposed_after: str, **edited: str) -> Any:
    return client.post(reverse("preference_note_decide", args=[world.project.pk]),
                       {"decision": decision, "kind": kind, "proposed_before": proposed_before,
                        "proposed_after": proposed_after,
                        "before": edited.get("before", proposed_before),
                        "after": edited.get("after", proposed_after)},
                       headers={"HX-Request": "true"})


def _voice_of_next_job(world: World) -> Any:
    job = GenerationJobFactory(brief=world.brief, status="queued")
    return to_request(job_inputs(job_id=job.pk)).voice


def test_it_proposes_what_editors_keep_changing(world: World, client: Any) -> None:
    _approve_with_edits(world)
    client.force_login(world.admin)
    page = _page(client, world)
    assert page.count('class="note-proposal"') == 2
    assert 'value="world-class"' in page and 'value="careful"' in page
    assert f'value="{SIGN_OFF}"' in page and "in 3 drafts" in page


def test_an_accepted_note_joins_the_prompt_and_the_checks_at_once(world: World,
                                                                  client: Any) -> None:
    _approve_with_edits(world)
    client.force_login(world.admin)
    before = _voice_of_next_job(world)
    assert _decide(client, world, "accept", "replace", "world-class", "careful").status_code == 200
    assert _decide(client, world, "accept", "add_end", "", SIGN_OFF).status_code == 200

    voice = _voice_of_next_job(world)
    assert voice.must[:len(before.must)] == before.must  # the project's own rules stay first
    assert "Write “careful” instead of “world-class”." in voice.must
    assert f"End with “{SIGN_OFF}”" in voice.must and "“world-class”" in voice.must_not
    prompt = system_message(voice)
    assert "“world-class”" in prompt and SIGN_OFF in prompt
    flags = check_draft("A world-class roast.", must=voice.must, must_not=voice.must_not,
                        banned_terms=voice.banned_terms)
    assert sorted(f.message for f in flags) == [
        "breaks style rule '“world-class”'", f"misses style rule 'End with “{SIGN_OFF}”'"]
    assert check_draft(f"A careful roast. {SIGN_OFF}", must=voice.must,
                       must_not=voice.must_not) == []
    # Decided proposals leave the list; the decisions are audited.
    page = _page(client, world)
    assert 'class="note-proposal"' not in page and page.count('class="note note-accepted"') == 2
    assert AuditEvent.objects.filter(verb="note.accept").count() == 2


def test_an_admin_edits_a_note_before_accepting_and_after(world: World, client: Any) -> None:
    _approve_with_edits(world)
    client.force_login(world.admin)
    _decide(client, world, "accept", "replace", "world-class", "careful",
            after="carefully roasted")
    note = PreferenceNote.objects.get()
    assert (note.proposed_after, note.after, note.count) == ("careful", "carefully roasted", 3)
    response = client.post(reverse("preference_note_update", args=[note.pk]),
                           {"decision": "accept", "before": "world class", "after": "small-batch"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    note.refresh_from_db()
    assert (note.before, note.after) == ("world class", "small-batch")
    assert "“world class”" in _voice_of_next_job(world).must_not


def test_a_dismissed_note_stops_and_is_not_proposed_again(world: World, client: Any) -> None:
    _approve_with_edits(world)
    client.force_login(world.admin)
    _decide(client, world, "dismiss", "add_end", "", SIGN_OFF)
    _decide(client, world, "accept", "replace", "world-class", "careful")
    _approve_with_edits(world)  # more of the same edits
    page = _page(client, world)
    assert 'class="note-proposal"' not in page
    note = PreferenceNote.objects.get(kind="replace")
    client.post(reverse("preference_note_update", args=[note.pk]), {"decision": "dismiss"})
    assert "“world-class”" not in _voice_of_next_job(world).must_not
    assert set(PreferenceNote.objects.values_list("status", flat=True)) == {"dismissed"}


def test_a_note_that_asks_for_a_banned_term_is_refused(world: World, client: Any) -> None:
    # The project bans "cheap" (tests.factories.ProjectFactory).
    _approve_with_edits(world, [("A fine deal.", "A cheap deal."),
                                ("Fine beans here.", "Cheap beans here.")])
    client.force_login(world.admin)
    response = _decide(client, world, "accept", "replace", "fine", "cheap")
    assert response.status_code == 400
    assert "“cheap” is one of the project&#x27;s banned terms" in response.content.decode()
    # Editing a note into a banned term is refused the same way; nothing is saved.
    response = _decide(client, world, "accept", "replace", "fine", "cheap", after="good")
    assert response.status_code == 200
    note = PreferenceNote.objects.get()
    response = client.post(reverse("preference_note_update", args=[note.pk]),
                           {"decision": "accept", "before": "fine", "after": "guaranteed cheap"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 400
    note.refresh_from_db()
    assert note.after == "good"


def test_bad_input_gets_a_message_and_changes_nothing(world: World, client: Any) -> None:
    _approve_with_edits(world)
    client.force_login(world.admin)
    for data in ({"decision": "accept", "kind": "replace", "proposed_before": "nope",
                  "proposed_after": "x"},
                 {"decision": "maybe", "kind": "replace", "proposed_before": "world-class",
                  "proposed_after": "careful"},
                 {"decision": "accept", "kind": "replace", "proposed_before": "world-class",
                  "proposed_after": "careful", "after": ""},
                 {"decision": "accept", "kind": "replace", "proposed_before": "world-class",
                  "proposed_after": "careful", "after": "x" * 300}):
        response = client.post(reverse("preference_note_decide", args=[world.project.pk]), data,
                               headers={"HX-Request": "true"})
        assert response.status_code == 400, data
        assert 'id="note-error"' in response.content.decode()
    assert not PreferenceNote.objects.exists()


def test_untrusted_edit_text_is_shown_as_text(world: World, client: Any) -> None:
    payload = '<img src=x onerror=alert(1)>'
    _approve_with_edits(world, [("A plain line.", f"A plain line. {payload}"),
                                ("Another line.", f"Another line. {payload}")])
    client.force_login(world.admin)
    page = _page(client, world)
    assert payload not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_proposals_come_from_this_project_only(world: World, client: Any) -> None:
    other = BriefFactory(project=world.other_project, author=world.outsider)
    for text, final in EDITS:
        draft = DraftFactory(job=GenerationJobFactory(brief=other), variant=0, text=text,
                             current_text=text)
        review_approve(user=world.outsider, draft_id=draft.pk, version=draft.version, text=final)
    client.force_login(world.admin)
    assert 'class="note-proposal"' not in _page(client, world)
    assert Draft.objects.filter(decision="approve_edited").count() == 3
