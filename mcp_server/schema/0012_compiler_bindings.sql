-- The compiler pass's bindings (mcp_server/indexer/precise): where a name used at a site is bound
-- when pgcode holds no symbol for it (a parameter, a local variable, a name destructured from a
-- require, an object literal's member). goto_definition answers from them. A row describes the
-- files as of the pass's start (written_at): it counts only while neither file was stored since.
CREATE TABLE compiler_bindings (
    file_id      bigint NOT NULL REFERENCES files ON DELETE CASCADE,   -- the use
    line         integer NOT NULL,
    name         text NOT NULL,
    def_file_id  bigint NOT NULL REFERENCES files ON DELETE CASCADE,   -- the binding
    def_line     integer NOT NULL,
    written_at   timestamptz NOT NULL
);
CREATE INDEX compiler_bindings_site ON compiler_bindings (file_id, line);
CREATE INDEX compiler_bindings_def_file ON compiler_bindings (def_file_id);
