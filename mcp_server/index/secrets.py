"""Credentials: the files never indexed, and the token shapes redacted from the text of those that are."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import pathspec

# Credential files by name (a glob on the file or folder name, at any depth, in any case). The
# environment files: `.env`, `.env.local`, docker's `prod.env`, direnv's `.envrc`, cookiecutter's
# `.envs/` (not `.envoy.yaml`); their templates are exempt below.
SECRET_NAMES: tuple[str, ...] = (
    ".env",
    ".env.*",
    "*.env",
    ".envrc",
    ".envs",
    "*.pem",
    "*.key",
    "*.p8",
    "*.p12",
    "*.pfx",
    "*.pkcs12",
    "*.ppk",
    "*.keystore",
    "*.jks",
    "*.kdbx",
    "id_rsa*",
    "id_dsa*",
    "id_ecdsa*",
    "id_ed25519*",
    ".netrc",
    "_netrc",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".gitcookies",
    ".pgpass",
    ".my.cnf",
    ".htpasswd",
    ".s3cfg",
    ".boto",
    ".vault-token",
    ".dockercfg",
    ".terraformrc",
    "terraform.rc",
    "kubeconfig",
    "kubeconfig.*",
    "*.kubeconfig",
    "credentials.json",
    "application_default_credentials.json",
    "credentials.tfrc.json",
    "service-account*.json",
    "service_account*.json",
    "*.tfstate",
    "*.tfstate.backup",
    "*.tfvars",
    "*.tfvars.json",
)
# Templates committed to document the variables an app reads; should one hold a real token
# anyway, the content check redacts it like in any other file.
SECRET_NAME_EXCEPTIONS = frozenset({".env.example", ".env.sample", ".env.template", ".env.dist"})
# Credential files by path (at the root or under any folder): a tool's config folder.
SECRET_PATHS: tuple[str, ...] = (
    ".docker/config.json",
    ".kube/config",
    ".config/gh/hosts.yml",
    ".config/hub",
    ".config/glab-cli/config.yml",
    ".aws/credentials",
    ".aws/config",
    ".streamlit/secrets.toml",
)
# Folders holding nothing but credentials: everything under them.
SECRET_FOLDERS: tuple[str, ...] = (".config/gcloud", ".azure", ".ssh", ".gnupg")

_NAME = re.compile("|".join(fnmatch.translate(glob) for glob in SECRET_NAMES), re.IGNORECASE)
_PATH_ENDS = tuple("/" + p for p in SECRET_PATHS + SECRET_FOLDERS)
_FOLDER_PARTS = tuple(f"/{f}/" for f in SECRET_FOLDERS)


@dataclass(frozen=True, slots=True)
class SecretRules:
    """What counts as a credential: the built-in lists plus `extra_files`, gitignore-style patterns
    applied after them (so `!pattern` exempts a file the built-ins would skip); `redact` turns the
    content check on. Crosses into worker processes, so it holds only plain values."""

    extra_files: tuple[str, ...] = ()
    redact: bool = True

    @classmethod
    def parse(cls, secret_files: str, redact: bool) -> SecretRules:
        """From the settings' comma-separated pattern list."""
        return cls(tuple(p.strip() for p in secret_files.split(",") if p.strip()), redact)

    @property
    def content_key(self) -> str:
        """Changes whenever reading the same bytes would store different text: an index built under
        another key must be read again."""
        return f"{CONTENT_RULES_VERSION}:{'redact' if self.redact else 'verbatim'}"

    def is_secret_path(self, rel: str, is_dir: bool) -> bool:
        """Whether a repo-relative path (file or folder) is a credential file, or lies in a credential folder."""
        name = rel.rsplit("/", 1)[-1]
        verdict = name.lower() not in SECRET_NAME_EXCEPTIONS and _NAME.match(name) is not None
        if not verdict:
            slashed = "/" + rel
            verdict = slashed.endswith(_PATH_ENDS) or any(part in slashed for part in _FOLDER_PARTS)
        if self.extra_files:
            check = _spec(self.extra_files).check_file(rel + "/" if is_dir else rel)
            if check.include is not None:
                verdict = check.include
        return verdict


@lru_cache(maxsize=8)
def _spec(patterns: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(patterns)


DEFAULT_RULES = SecretRules()

# Bump when a shape below changes: every repository is then read again on its next full pass.
CONTENT_RULES_VERSION = 1

_B64 = r"A-Za-z0-9+/="
# What a PEM block's armour may hold besides base64: headers (Proc-Type, DEK-Info, Version), and
# when it sits in a string literal, \n escapes and the quotes and commas of concatenation.
_PEM_BODY = rf"[{_B64}\s\\\"',.:-]"
_PEM_END = r"-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
_PEM_GAP = r"[\s\\\"',]"  # between base64 lines: line breaks, \n escapes, quotes of concatenated strings
_URL_PART = r"[^\s:/@'\"`{}$%<>\[\]()]"
_END = r"(?![A-Za-z0-9_-])"


@dataclass(frozen=True, slots=True)
class _Shape:
    label: str  # in the placeholder: [REDACTED:label]
    hints: tuple[str, ...]  # literal text every match holds: without one, the pattern is not run
    pattern: re.Pattern[str]  # its group `secret` is what is replaced
    random: bool = True  # a random token: one without both a digit and a letter is a placeholder
    word: bool = True  # a token of its own: a match that continues a word is not one
    placeholders: frozenset[str] = frozenset()  # values (lower case) that stand for a secret in examples


def _shape(label: str, hints: tuple[str, ...], pattern: str, **options: Any) -> _Shape:
    return _Shape(label, hints, re.compile(pattern), **options)


# Each issuer's own format (prefix, alphabet, length), so that names, hashes and prose that
# merely start alike are left alone.
SHAPES: tuple[_Shape, ...] = (
    # A PEM block, raw or in a string literal. It must hold a base64 line (a real key always does),
    # so that header and footer constants in code are not taken for a key; without an END line (a
    # truncated paste), the long base64 lines that follow go too. Possessive and bounded: a hostile
    # file of headers must not make the search for END quadratic.
    _shape(
        "private-key",
        ("-----BEGIN ",),
        rf"(?P<secret>-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----{_PEM_BODY}{{0,400}}?[{_B64}]{{40,}}+"
        rf"(?:(?:{_PEM_GAP}*+[{_B64}]++)*+{_PEM_GAP}*+{_PEM_END}|(?:{_PEM_GAP}*+[{_B64}]{{20,}}+)*+))",
        random=False,
        word=False,
    ),
    _shape(
        "github-token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        rf"(?P<secret>gh[pousr]_[A-Za-z0-9]{{36,251}}|github_pat_[A-Za-z0-9_]{{50,251}}){_END}",
    ),
    _shape("gitlab-token", ("glpat-",), rf"(?P<secret>glpat-[A-Za-z0-9_-]{{20,64}}){_END}"),
    _shape(
        "aws-access-key-id",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
        rf"(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{{16}}){_END}",
    ),
    # AWS secret keys have no prefix of their own: only the name they are given says what they are.
    _shape(
        "aws-secret-access-key",
        ("secret_access_key", "SECRET_ACCESS_KEY", "SecretAccessKey", "secretAccessKey"),
        r"(?:secret_access_key|SECRET_ACCESS_KEY|[Ss]ecretAccessKey)[\"']?\s*(?:[:=]|=>)\s*[\"']?"
        r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        word=False,
    ),
    _shape("slack-token", ("xox", "xapp-"), r"(?P<secret>(?:xox[abeoprs]|xapp)-[0-9]+-[A-Za-z0-9-]{10,250})"),
    _shape(
        "slack-webhook",
        ("hooks.slack.com/",),
        r"(?P<secret>hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]{20,200})",
        random=False,
    ),
    _shape(
        "openai-key",
        ("sk-",),
        rf"(?P<secret>sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{{40,250}}|[A-Za-z0-9]{{32,250}})){_END}",
    ),
    _shape("anthropic-key", ("sk-ant-",), rf"(?P<secret>sk-ant-[a-z]{{2,8}}[0-9]{{2}}-[A-Za-z0-9_-]{{40,250}}){_END}"),
    _shape(
        "stripe-key",
        ("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"),
        r"(?P<secret>(?:[sr]k_(?:live|test)|whsec)_[A-Za-z0-9]{20,250})(?![A-Za-z0-9])",
    ),
    _shape("google-api-key", ("AIza",), rf"(?P<secret>AIza[A-Za-z0-9_-]{{35}}){_END}"),
    _shape(
        "jwt",
        ("eyJ",),
        rf"(?P<secret>eyJ[A-Za-z0-9_-]{{10,}}\.eyJ[A-Za-z0-9_-]{{10,}}\.[A-Za-z0-9_-]{{16,}}){_END}",
        random=False,
    ),
    _shape("npm-token", ("npm_",), r"(?P<secret>npm_[A-Za-z0-9]{36})(?![A-Za-z0-9])"),
    _shape("pypi-token", ("pypi-AgE",), rf"(?P<secret>pypi-AgE[A-Za-z0-9_-]{{50,}}){_END}"),
    _shape("huggingface-token", ("hf_",), r"(?P<secret>hf_[A-Za-z0-9]{34,40})(?![A-Za-z0-9])"),
    _shape("sendgrid-key", ("SG.",), rf"(?P<secret>SG\.[A-Za-z0-9_-]{{22}}\.[A-Za-z0-9_-]{{43}}){_END}"),
    # `scheme://user:PASSWORD@host`. Template fields ({password}, $PASS, %(pw)s) cannot match, and
    # the words documentation writes in their place are left as they are.
    _shape(
        "url-password",
        ("://",),
        rf"://{_URL_PART}{{1,100}}:(?P<secret>{_URL_PART}{{3,200}})@[A-Za-z0-9\[]",
        random=False,
        word=False,
        placeholders=frozenset({"password", "passwd", "pass", "pwd", "secret", "changeme", "token", "xxx", "***"}),
    ),
)
_LINE_BREAKS = re.compile(r"[^\r\n]+")


@dataclass(frozen=True, slots=True)
class Redaction:
    text: str  # each secret replaced by [REDACTED:label]; line breaks all kept
    secrets: int  # how many were replaced
    nothing_else: bool  # the text is secrets and whitespace only (a key file): not worth indexing


def redact(text: str) -> Redaction:
    """`text` with every secret of a known shape replaced by [REDACTED:label]. The line breaks of a
    secret stay where they were, so line numbers, and the lines after it, do not move."""
    found = sorted(_find(text))
    if not found:
        return Redaction(text, 0, False)
    pieces: list[str] = []
    count = 0
    kept_blank = True
    done = 0  # text before this offset is in pieces
    for start, end, label in found:
        if start < done:  # inside the one before (a token in a key's armour, say)
            continue
        kept_blank = kept_blank and not text[done:start].strip()
        pieces += [text[done:start], f"[REDACTED:{label}]", _LINE_BREAKS.sub("", text[start:end])]
        count += 1
        done = end
    pieces.append(text[done:])
    return Redaction("".join(pieces), count, kept_blank and not text[done:].strip())


def _find(text: str) -> list[tuple[int, int, str]]:
    """(start, end, label) of every secret. Each shape's pattern is tried only where one of its
    hints starts, and only there: a substring search costs a fraction of a pattern scan, most files
    hold no hint at all (one alternation of every shape would be many times slower in Python's
    `re`), and a hint inside a word is never a token, so no run of text is scanned twice."""
    found: list[tuple[int, int, str]] = []
    for shape in SHAPES:
        for hint in shape.hints:
            at = text.find(hint)
            while at >= 0:
                nxt = at + 1
                if not (shape.word and at > 0 and (text[at - 1].isalnum() or text[at - 1] in "_-")):
                    m = shape.pattern.match(text, at)
                    if m is not None and _is_secret(shape, m.group("secret")):
                        found.append((m.start("secret"), m.end("secret"), shape.label))
                        nxt = m.end()
                at = text.find(hint, nxt)
    return found


def _is_secret(shape: _Shape, value: str) -> bool:
    if shape.random and not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    return value.lower() not in shape.placeholders and len(set(value)) > 1
