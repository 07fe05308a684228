"""Editors working the review queue: open the queue, open a draft (claims it), approve it;
and search the queue (``queue search``: one common word, a two-word query, a prefix).

Run through bench/load/run.sh, which seeds 100,000 pending drafts, starts gunicorn on
127.0.0.1 and calls locust headless for a bounded time. Environment:
LOAD_PASSWORD (the seeded users' password), LOAD_MIN_ID / LOAD_MAX_ID (the range of
seeded draft ids to open).
"""

from __future__ import annotations

import os
import random
import re

from locust import HttpUser, between, task

VERSION = re.compile(r'name="version" value="(\d+)"')
HX = {"HX-Request": "true", "HX-Target": "workspace"}
# Words of the seeded drafts (seed_load): "coffee" is in most drafts, the pairs in fewer.
SEARCHES = ["coffee", "citrus honey", "espres", "kettle grinder story", "caramel"]


class Editor(HttpUser):
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        self.client.get("/login/", name="login")
        token = self.client.cookies.get("csrftoken", "")
        self.client.post("/login/", {"username": "load-editor",
                                     "password": os.environ["LOAD_PASSWORD"],
                                     "csrfmiddlewaretoken": token},
                         headers={"Referer": self.host + "/login/"}, name="login",
                         allow_redirects=False)
        self.low = int(os.environ["LOAD_MIN_ID"])
        self.high = int(os.environ["LOAD_MAX_ID"])

    @task
    def review_one(self) -> None:
        self.client.get("/review/", name="queue")
        draft_id = random.randint(self.low, self.high)  # noqa: S311 - load spread, not crypto
        with self.client.get(f"/drafts/{draft_id}/review/", name="draft",
                             catch_response=True) as page:
            text = page.text or ""
            match = VERSION.search(text)
            if page.status_code != 200 or not match:
                page.failure(f"status {page.status_code}")
                return
            page.success()
        if "Being reviewed by" in text or "This draft was" in text:
            return  # another simulated editor has it: a real one would move on too
        self.client.post(
            f"/drafts/{draft_id}/approve/",
            {"version": match.group(1)},
            headers={**HX, "X-CSRFToken": self.client.cookies.get("csrftoken", ""),
                     "Referer": f"{self.host}/drafts/{draft_id}/review/"},
            name="approve",
        )

    @task
    def search_queue(self) -> None:
        q = random.choice(SEARCHES)  # noqa: S311 - load spread, not crypto
        order = random.choice(["deadline", "newest"])  # noqa: S311
        self.client.get("/review/", params={"q": q, "order": order}, name="queue search")
