"""Storage, each part behind a protocol: the catalog index (vectors and records, in Chroma) and
shoppers' ratings (in SQL)."""

from ..text_input import validate_user_id
from .catalog_index import Candidate, CatalogIndex, Filters, Neighbour
from .chroma_index import ChromaCatalogIndex
from .chroma_migration import open_rating_store
from .client import open_client
from .protocols import Profile, RatingStore
from .sql_ratings import SqlRatingStore

__all__ = [
    "Candidate",
    "CatalogIndex",
    "ChromaCatalogIndex",
    "Filters",
    "Neighbour",
    "Profile",
    "RatingStore",
    "SqlRatingStore",
    "open_client",
    "open_rating_store",
    "validate_user_id",
]
