"""What other shoppers liked together: the collaborative half of recommendation."""

from .cooccurrence import CoOccurrence, ItemIds, SourceInfo

__all__ = ["CoOccurrence", "ItemIds", "SourceInfo"]
