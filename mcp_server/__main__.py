"""`python -m mcp_server`: the pgcode command line."""

import sys

from .cli import main

sys.exit(main())
