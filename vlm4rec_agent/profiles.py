"""A shopper's profile as shown: liked and disliked items, and what the likes have in common."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .ids import user_id_forms
from .items import StoredItem
from .store import CatalogIndex, Profile, RatingStore
from .views import CommonValue, ItemBrief, ProfileView


def attributes_in_common(items: Sequence[StoredItem], min_share: float = 0.5) -> list[CommonValue]:
    """Attribute values that at least ``min_share`` of the items (and at least two) carry, most shared first."""
    counts: dict[tuple[str, str], int] = {}
    for item in items:
        for pair in set(item.attributes.pairs()):
            counts[pair] = counts.get(pair, 0) + 1
    needed = max(2, math.ceil(min_share * len(items)))
    common = [CommonValue(field=f, value=v, count=c) for (f, v), c in counts.items() if c >= needed]
    return sorted(common, key=lambda c: (-c.count, c.field, c.value))


def profile_view(profile: Profile, index: CatalogIndex | None) -> ProfileView:
    """The view of ``profile``; items no longer in the catalog are left out (their ratings are kept)."""
    stored = index.get(profile.liked + profile.disliked) if index is not None and not profile.is_empty else {}
    liked = [stored[i].item for i in profile.liked if i in stored]
    disliked = [stored[i].item for i in profile.disliked if i in stored]
    return ProfileView(
        user=profile.user,
        liked=[ItemBrief.of(i) for i in liked],
        disliked=[ItemBrief.of(i) for i in disliked],
        common=attributes_in_common(liked),
    )


def stored_user(ratings: RatingStore, user: str | None) -> str:
    """A shopper's id as the ratings keep it: checked and in NFC, or, when a store written before
    user ids were normalised holds this shopper's ratings under another form of it, that form.
    (Only an id that has other forms costs a look; an ASCII id has none.)"""
    forms = user_id_forms(user)
    if len(forms) > 1 and ratings.profile(forms[0]).is_empty:
        return next((form for form in forms[1:] if not ratings.profile(form).is_empty), forms[0])
    return forms[0]
