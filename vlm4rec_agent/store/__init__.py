"""Storage: the catalog index (vectors and records, in Chroma) and shoppers' ratings, each behind a protocol."""

from .catalog_index import Candidate, CatalogIndex, Filters, Neighbour
from .chroma_index import ChromaCatalogIndex
from .client import open_client
from .protocols import Profile, RatingStore
from .ratings import ChromaRatingStore, validate_user_id

__all__ = [
    "Candidate",
    "CatalogIndex",
    "ChromaCatalogIndex",
    "ChromaRatingStore",
    "Filters",
    "Neighbour",
    "Profile",
    "RatingStore",
    "open_client",
    "validate_user_id",
]
