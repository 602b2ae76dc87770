"""Test doubles shipped with the library, for the tests of projects built on it (as pydantic-ai
ships ``TestModel``): a tiny offline VLM built from code (``tiny_vlm``) and a scriptable
OpenAI-compatible server on 127.0.0.1 (``fake_openai``). Importing them loads no model library.

Helpers that only this repository's own tests and benchmarks use (the simulated shoppers, the
``chroma run`` starter) live in ``tests/support/`` instead, outside the package.
"""
