"""Long search queries for bench/speed.py: pasted bug reports, commit messages and tracebacks of
a fixed length, built deterministically from text written here and Django's own names."""

from __future__ import annotations

# Plain prose, the way a bug report describes a symptom without naming any code.
PROSE = [
    "When a user submits the registration form twice in quick succession, the second request"
    " sometimes creates a duplicate account even though the email address should be unique.",
    "The problem seems to happen only under load, when two workers handle the requests at the"
    " same time and both check whether the address is already taken before either saves it.",
    "After upgrading, dates shown on the admin change list are one hour off for users in"
    " time zones with daylight saving time, while the detail page still shows the right time.",
    "Uploading a large file through the form stops halfway and the server answers with an"
    " error page; smaller files work, and the limit does not match the configured maximum size.",
    "The password reset email arrives with a link that has already expired by the time the user"
    " clicks it, although the timeout in the settings is several days long.",
    "Translations of the month names are missing in the calendar widget when the language is"
    " switched in the middle of a session, and the page falls back to English text.",
    "Pagination of the search results repeats some objects on the second page and skips others,"
    " which looks like the ordering is not stable between the two database queries.",
    "The cache keeps returning a stale value after the record was updated, until the process is"
    " restarted; clearing the cache by hand from the shell does not help either.",
    "Redirects after login drop the query string of the original address, so the user lands on"
    " the right page but with the filters and the page number lost.",
    "Serializing a model with a decimal field to json loses precision on large numbers, and the"
    " round trip through the serializer changes the stored value.",
]

# The same kind of report, naming the code involved, as developers write them.
NAMED = [
    "Calling get_object_or_404 with a QuerySet that uses select_related raises FieldError when the"
    " related model is swapped; the traceback ends in Query.add_select_related.",
    "CsrfViewMiddleware rejects a valid token after rotate_token is called in a view that also"
    " sets SESSION_COOKIE_SECURE, because get_token reads the old cookie value.",
    "HttpResponseRedirect built with reverse_lazy keeps the lazy object, and"
    " url_has_allowed_host_and_scheme compares it as a string only after force_str.",
    "make_password and check_password disagree when PASSWORD_HASHERS lists PBKDF2SHA1PasswordHasher"
    " first; identify_hasher picks the wrong algorithm from the encoded value.",
    "Paginator.get_page with an unordered QuerySet emits UnorderedObjectListWarning but"
    " Page.has_next still counts the rows twice through QuerySet.count.",
    "The FileSystemStorage.save method calls get_available_name in a loop; with"
    " FILE_UPLOAD_PERMISSIONS set the chmod happens before _save has finished writing.",
    "In the serializers, DjangoJSONEncoder.default turns a Decimal into a str, and"
    " Deserializer then hands it to DecimalField.to_python which applies max_digits.",
    "cache.get_or_set with a callable default runs the callable even when the key exists,"
    " since BaseCache.get_or_set checks the sentinel after add returned False.",
]

TRACEBACK = (
    "Traceback (most recent call last):"
    ' File "django/core/handlers/exception.py", line 55, in inner response = get_response(request)'
    ' File "django/core/handlers/base.py", line 197, in _get_response response = wrapped_callback(request)'
    ' File "django/views/generic/base.py", line 104, in view return self.dispatch(request, *args, **kwargs)'
    ' File "django/views/generic/detail.py", line 108, in get self.object = self.get_object()'
    ' File "django/views/generic/detail.py", line 53, in get_object obj = queryset.get()'
    ' File "django/db/models/query.py", line 649, in get raise self.model.MultipleObjectsReturned('
    " MultipleObjectsReturned: get() returned more than one Article -- it returned 2!"
)

LENGTHS = (200, 900, 2000)
KINDS = ("prose", "named", "traceback")


def _cut(text: str, length: int) -> str:
    """The text cut to at most `length` characters, at a word boundary."""
    if len(text) <= length:
        return text
    return text[:length].rsplit(" ", 1)[0]


def long_query(kind: str, length: int, variant: int) -> str:
    """A query of about `length` characters (never more): the kind's paragraphs, starting at the
    `variant`-th one, repeated in turn as needed. Named reports are mixed with prose, as people
    write them; a traceback comes after the words that introduce it."""
    if kind == "prose":
        pool = PROSE
    elif kind == "named":
        pool = [p for pair in zip(NAMED, PROSE, strict=False) for p in pair]
    else:
        pool = [PROSE[variant % len(PROSE)], TRACEBACK, *NAMED]
    parts: list[str] = []
    i = {"prose": variant, "named": 2 * variant}.get(kind, 0)
    while sum(len(p) + 1 for p in parts) < length:
        parts.append(pool[i % len(pool)])
        i += 1
    return _cut(" ".join(parts), length)


def long_queries(length: int, per_kind: int) -> list[str]:
    """`per_kind` distinct queries of each kind at this length."""
    return [long_query(kind, length, v) for v in range(per_kind) for kind in KINDS]
