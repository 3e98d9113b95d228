"""What an agent needs to act on a question or a symbol, within a token budget: search, graph and outlines combined."""
