"""Versioned prompt files. The repository keeps them at the top (prompts/); pyproject.toml's
``package-dir`` ships them as ``vlm4rec_agent.prompts``, read with ``importlib.resources``."""
