-- The compiler pass (mcp_server/precise): which pass made each edge, and each repository's pass
-- per indexer. A constant default: no table rewrite of edges.
ALTER TABLE edges ADD COLUMN provenance text NOT NULL DEFAULT 'tree-sitter'
    CHECK (provenance IN ('tree-sitter', 'compiler'));

CREATE TABLE compiler_passes (
    repository_id    integer NOT NULL REFERENCES repositories ON DELETE CASCADE,
    indexer          text NOT NULL,                  -- scip-typescript, scip-python
    state            text NOT NULL CHECK (state IN ('running', 'current', 'failed', 'unavailable', 'off')),
    version          text,                           -- the indexer's own, from its index
    started_at       timestamptz,                    -- files stored after this are stale
    deadline         timestamptz,                    -- running past this: its process died
    finished_at      timestamptz,
    error            text,                           -- failed: what went wrong; unavailable: what to install
    edges_confirmed  integer NOT NULL DEFAULT 0,
    edges_corrected  integer NOT NULL DEFAULT 0,     -- pointed elsewhere: now at the compiler's target
    edges_added      integer NOT NULL DEFAULT 0,
    edges_dropped    integer NOT NULL DEFAULT 0,
    skipped_files    text[] NOT NULL DEFAULT '{}',   -- edited while the indexer ran: left tree-sitter
    seconds          real,
    peak_rss_mb      real,
    PRIMARY KEY (repository_id, indexer)
);
