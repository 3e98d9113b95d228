-- How many secrets (tokens, keys, passwords of known shapes) were redacted from each file's text
-- before it was stored; `pgcode status` sums them per repository. Files indexed before this
-- count 0 until read again: a repository's first full pass under the credential filter reads
-- every file (repositories.settings->>'content_rules' records the rules its text was stored under).
ALTER TABLE files ADD COLUMN secrets_redacted integer NOT NULL DEFAULT 0;
