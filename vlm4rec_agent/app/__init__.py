"""The Gradio app: chat with photos, explained results, profiles, and the tools over MCP."""

from .handlers import ShopApp
from .launch import main, serve
from .ui import build_app

__all__ = ["ShopApp", "build_app", "main", "serve"]
