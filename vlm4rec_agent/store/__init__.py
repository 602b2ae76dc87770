"""Storage: the catalog's vectors and attributes in Chroma, shoppers' ratings in SQL."""

from ..text_input import validate_user_id
from .catalog_store import Candidate, CatalogStore, Neighbour
from .chroma_migration import open_rating_store
from .client import open_client
from .protocols import Profile, RatingStore
from .sql_ratings import SqlRatingStore

__all__ = [
    "Candidate",
    "CatalogStore",
    "Neighbour",
    "Profile",
    "RatingStore",
    "SqlRatingStore",
    "open_client",
    "open_rating_store",
    "validate_user_id",
]
