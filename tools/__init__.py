"""The shopping tools, written once: the chat assistant, LangChain agents and MCP clients call these.

The repository keeps them at the top (tools/); pyproject.toml's ``package-dir`` ships them as
``vlm4rec_agent.tools``, so no generic ``tools`` name is installed into site-packages.
"""

from .shop import TOOL_NAMES, ShopTools

__all__ = ["TOOL_NAMES", "ShopTools"]
