"""`python -m mcp_server`: the pgcode command line."""

import sys

from .cli import main

# The guard matters: worker processes for parsing are spawned, and spawning re-imports __main__.
if __name__ == "__main__":
    sys.exit(main())
