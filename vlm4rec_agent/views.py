"""Plain-data views of results and profiles, shared by every face (CLI --json, agent tools, MCP, app)."""

from __future__ import annotations

from typing import Any

from .engine import ProfileView
from .items import StoredItem
from .retrieval import Result


def result_data(result: Result) -> dict[str, Any]:
    return {
        "rank": result.rank,
        "id": result.item.id,
        "title": result.item.title,
        "score": round(result.score, 4),
        "image": result.item.image,
        "explanation": result.explanation.text,
        "reasons": [r.model_dump() for r in result.explanation.reasons],
        "attributes": result.item.attributes.model_dump(),
        "grounder": result.item.record.grounder,
    }


def item_brief(item: StoredItem) -> dict[str, Any]:
    return {"id": item.id, "title": item.title, "image": item.image}


def profile_data(view: ProfileView) -> dict[str, Any]:
    return {
        "user": view.user,
        "liked": [item_brief(i) for i in view.liked],
        "disliked": [item_brief(i) for i in view.disliked],
        "common": [{"field": f, "value": v, "count": n} for f, v, n in view.common],
    }
