"""The compiler pass: a language's own SCIP indexer confirms, adds and drops the tree-sitter graph's edges."""
