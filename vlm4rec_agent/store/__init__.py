"""Storage in Chroma: the catalog's vectors and attributes, and shoppers' ratings."""

from .catalog_store import Candidate, CatalogStore, Neighbour
from .client import open_client
from .ratings import Profile, RatingStore, validate_user_id
from .sql_ratings import SqlRatingStore

__all__ = [
    "Candidate",
    "CatalogStore",
    "Neighbour",
    "Profile",
    "RatingStore",
    "SqlRatingStore",
    "open_client",
    "validate_user_id",
]
