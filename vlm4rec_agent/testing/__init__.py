"""Test doubles shipped with the library: tiny offline models and fake servers."""
