"""Helpers for the final evaluation's tests: an organiser's test in the form's notation, setting it, taking it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import csrf_for, csrf_from
from webinar.db import DB
from webinar.evaluation import queries
from webinar.evaluation.queries import Question

TEST = """Ce organ pompează sângele?
- Ficatul
* Inima
- Rinichiul

Care sunt vitamine liposolubile?
* Vitamina A
* Vitamina D
- Vitamina C

Câte camere are inima?
- Două
* Patru
"""


async def set_test(http: httpx.AsyncClient, event_id: int, **fields: Any) -> httpx.Response:
    """Post the organiser's evaluation form (on, pass mark 60, TEST unless overridden)."""
    path = f"/admin/events/{event_id}/evaluation"
    data = {"evaluation": "on", "pass_mark": "60", "questions": TEST} | fields
    return await http.post(path, data={k: v for k, v in data.items() if v is not None} | {
        "csrf_token": await csrf_for(http, path)
    })  # fmt: skip


async def stored_test(db: DB, event_id: int) -> list[Question]:
    async with db.connection() as conn:
        return await queries.test_of(conn, event_id)


def answers(test: list[Question], right: int) -> dict[str, list[str]]:
    """The form's answers with the first `right` questions answered right and the others wrong."""
    chosen: dict[str, list[str]] = {}
    for n, q in enumerate(test):
        ids = sorted(q.right) if n < right else [next(o.id for o in q.options if not o.correct)]
        chosen[f"q{q.id}"] = [str(i) for i in ids]
    return chosen


async def take(client: httpx.AsyncClient, slug: str, chosen: dict[str, list[str]]) -> httpx.Response:
    """Submit the attendee's evaluation form."""
    path = f"/events/{slug}/me/evaluation"
    page = await client.get(path)
    assert page.status_code == 200, page.text[:300]
    return await client.post(path, data={**chosen, "csrf_token": csrf_from(page.text)})
