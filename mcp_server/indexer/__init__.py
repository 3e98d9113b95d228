"""Where the pure indexing stages meet the database: store, resolve, embed, and the pipeline."""
