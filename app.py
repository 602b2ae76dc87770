"""The shopping assistant: `python app.py [--catalog PATH] [--mcp]` (options: --help)."""

import sys

from vlm4rec_agent.app import main

if __name__ == "__main__":
    sys.exit(main())
