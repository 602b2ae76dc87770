"""Versioned prompt files. The repository keeps them at the top (prompts/); the package ships
them as ``vlm4rec_agent.prompts`` (a link in the source tree, real files in a wheel)."""
