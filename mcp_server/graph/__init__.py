"""Read side of the code graph: symbol lookup, outlines, call/import walks, impact and the repo map."""
