"""Offline evaluation: the VLM4Rec protocol (hold out part of each user's items, rank the catalog
with a profile built from the rest) over any item representation and profile scorer."""
