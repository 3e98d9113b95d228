"""The words of a code text, as the model reads it with embed_text "words": punctuation and underscores dropped, names split."""

from __future__ import annotations

import re

# WordPiece makes every punctuation mark a token of its own, and in code they are two fifths of the
# tokens (Django's chunks: `_` 7 %, `.` 5 %, `"` 5 %, then brackets, `,`, `:`, `=`); a sentence
# model reads them as noise, and the words they separate (`status_code`, `getUserName`) are what a
# query says ("the status code", "get the user name").
_NOT_WORD = re.compile(r"[\W_]+")
_CASE_CHANGE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def words(text: str) -> str:
    """`text` as words: camelCase and HTTPServer split, each run of punctuation, underscores and
    whitespace one space. Letters and digits of every script are kept as they are."""
    return _NOT_WORD.sub(" ", _CASE_CHANGE.sub(" ", text)).strip()
