"""Credentials never reach the index: credential files are skipped as `secret`, token shapes are redacted."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import random
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from mcp.types import CallToolResult, TextContent

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.errors import ConfigError
from mcp_server.index.discover import discover
from mcp_server.index.secrets import DEFAULT_RULES, SecretRules, redact
from mcp_server.indexer import repositories
from mcp_server.indexer.pipeline import index_paths, index_repository
from tests.mcp_harness import connect

BASE62 = string.ascii_letters + string.digits
URLSAFE = BASE62 + "_-"


def _random(n: int, alphabet: str = BASE62, seed: str = "") -> str:
    """A token body as an issuer makes them: random, with a digit and a letter. Built at run time,
    so this file holds no token for a scanner (or pgcode itself) to find."""
    rng = random.Random(seed + str(n) + alphabet)
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(n))
        if all(any(is_kind(c) for c in value) for is_kind in (str.isdigit, str.isalpha) if any(map(is_kind, alphabet))):
            return value


def _b64url(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _pem(kind: str = "RSA ", lines: int = 6, seed: str = "") -> str:
    body = "\n".join(_random(64, BASE62 + "+/", seed + str(i)) for i in range(lines))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n{_random(20, BASE62, seed)}==\n-----END {kind}PRIVATE KEY-----"


# label -> secrets of that shape, as they appear in real files.
TOKENS: dict[str, list[str]] = {
    "github-token": [
        "ghp_" + _random(36),
        "gho_" + _random(36, seed="o"),
        "github_pat_" + _random(22) + "_" + _random(59),
    ],
    "gitlab-token": ["glpat-" + _random(20, URLSAFE)],
    "aws-access-key-id": [
        "AKIA" + _random(16, string.ascii_uppercase + string.digits),
        "ASIA" + _random(16, string.ascii_uppercase + string.digits, seed="s"),
    ],
    "slack-token": ["xoxb-" + _random(12, string.digits) + "-" + _random(13, string.digits) + "-" + _random(24)],
    "openai-key": ["sk-" + _random(48), "sk-proj-" + _random(120, URLSAFE)],
    "anthropic-key": ["sk-ant-api03-" + _random(93, URLSAFE)],
    "stripe-key": ["sk_live_" + _random(24), "rk_live_" + _random(99)],
    "google-api-key": ["AIza" + _random(35, URLSAFE)],
    "jwt": [
        _b64url({"alg": "HS256", "typ": "JWT"})
        + "."
        + _b64url({"sub": "1234567890", "name": "Ada"})
        + "."
        + _random(43, URLSAFE)
    ],
    "npm-token": ["npm_" + _random(36)],
    "pypi-token": ["pypi-AgEIcHlwaS5vcmc" + _random(70, URLSAFE)],
    "huggingface-token": ["hf_" + _random(34)],
    "sendgrid-key": ["SG." + _random(22, URLSAFE) + "." + _random(43, URLSAFE)],
}


@pytest.mark.parametrize(("label", "token"), [(label, t) for label, ts in TOKENS.items() for t in ts])
def test_a_token_is_replaced_within_its_line(label: str, token: str) -> None:
    text = f'SETTINGS = {{\n    "key": "{token}",  # from the vault\n}}\nafter = 1\n'
    result = redact(text)
    assert result.text == text.replace(token, f"[REDACTED:{label}]")
    assert result.secrets == 1 and not result.nothing_else


def test_context_shapes_replace_only_the_secret() -> None:
    secret = _random(40, BASE62 + "/+")
    password = _random(16)
    hook = "hooks.slack.com/services/T" + _random(8, string.ascii_uppercase) + "/B" + _random(8) + "/" + _random(24)
    text = (
        f"aws_secret_access_key = {secret}\n"
        f'{{"SecretAccessKey": "{secret}"}}\n'
        f"DATABASE_URL=postgresql://app:{password}@db.internal:5432/app\n"
        f"SLACK = 'https://{hook}'\n"
    )
    result = redact(text)
    assert result.text == (
        "aws_secret_access_key = [REDACTED:aws-secret-access-key]\n"
        '{"SecretAccessKey": "[REDACTED:aws-secret-access-key]"}\n'
        "DATABASE_URL=postgresql://app:[REDACTED:url-password]@db.internal:5432/app\n"
        "SLACK = 'https://[REDACTED:slack-webhook]'\n"
    )
    assert result.secrets == 4


def test_a_private_key_keeps_its_line_breaks_so_nothing_after_it_moves() -> None:
    key = _pem("EC ")
    text = f"# deploy key\nKEY = '''{key}'''\n\ndef after():\n    return 1\n"
    result = redact(text)
    assert result.text.count("\n") == text.count("\n")
    assert result.text.splitlines()[1] == "KEY = '''[REDACTED:private-key]"
    assert result.text.splitlines().index("def after():") == text.splitlines().index("def after():")
    assert result.text.endswith("'''\n\ndef after():\n    return 1\n")
    assert not result.nothing_else


def test_a_private_key_inside_a_json_string_is_redacted() -> None:
    text = json.dumps({"type": "service_account", "private_key": _pem("", seed="json") + "\n"})
    result = redact(text)
    assert "[REDACTED:private-key]" in result.text and "MII" not in result.text and "\n" not in result.text
    assert '"type": "service_account"' in result.text


def test_a_file_of_nothing_but_keys_is_reported_as_such() -> None:
    assert redact(_pem() + "\n").nothing_else
    assert redact("\n" + _pem(seed="a") + "\n\n" + _pem("OPENSSH ", seed="b") + "\n").nothing_else
    assert redact("ghp_" + _random(36) + "\n").nothing_else
    assert not redact("token: ghp_" + _random(36) + "\n").nothing_else


NEAR_MISSES = [
    "PLACEHOLDER = 'ghp_" + "x" * 36 + "'",  # documentation placeholder
    "prefix = 'ghp_'; short = 'ghp_abc123'",
    "def ghp_token_name(): pass",
    "key = 'AKIA" + "X" * 16 + "'",  # placeholder without a digit
    "key = 'AKIA" + "ABC123" + "'",  # too short
    "id = 'akia" + "abcdefgh12345678" + "'",  # lower case
    "HASH = 'XAKIA" + "ABCDEFGH12345678" + "'",  # inside a longer word
    "pip install scikit-learn; uses sk-learn",
    "class='task-" + _random(40) + "'",  # sk- inside a word
    "sk-" + _random(20),  # too short for a key
    "xoxb-not-a-token",
    "header = 'eyJhbGciOiJIUzI1NiJ9'",  # one segment, not a token
    "unsigned = '" + _b64url({"alg": "none"}) + "." + _b64url({"sub": "x"}) + ".'",
    'BEGIN = "-----BEGIN RSA PRIVATE KEY-----"\nEND = "-----END RSA PRIVATE KEY-----"',
    "-----BEGIN CERTIFICATE-----\n" + _random(64, BASE62 + "+/") + "\n-----END CERTIFICATE-----",
    "url = f'postgresql://{user}:{password}@{host}/db'",
    "url = 'postgresql://$DB_USER:$DB_PASSWORD@db/app'",
    "docs: https://user:password@example.com/path",
    "server = 'https://example.com:8443/path?q=1'",
    "from huggingface_hub import hf_hub_download",
    "env npm_config_cache=/tmp/npm",
    "SG.load(config)",
    "digest = 'sha256:" + _random(64, "0123456789abcdef") + "'",
    "api_key = AIzaShort",
    "sk_live_" + "x" * 24,
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_left_as_they_are(text: str) -> None:
    result = redact(text)
    assert (result.text, result.secrets) == (text, 0)


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.local",
        ".env.production",
        "config/prod.env",
        ".envrc",
        "app/.ENV",
        "certs/server.pem",
        "certs/server.key",
        "keys/AuthKey_ABC123.p8",
        "keys/client.p12",
        "keys/client.pfx",
        "android/app.keystore",
        "android/app.jks",
        "id_rsa",
        "home/.ssh/id_ed25519",
        "id_ecdsa.pub",
        "id_dsa",
        ".netrc",
        ".npmrc",
        ".pypirc",
        ".git-credentials",
        ".htpasswd",
        ".pgpass",
        "home/.docker/config.json",
        "home/.kube/config",
        "kubeconfig",
        "clusters/prod.kubeconfig",
        "home/.config/gh/hosts.yml",
        ".aws/credentials",
        "home/.aws/config",
        "home/.config/gcloud/credentials.db",
        "home/.config/gcloud/legacy_credentials/a@b.c/adc.json",
        "application_default_credentials.json",
        "gcp/credentials.json",
        "gcp/service-account-prod.json",
        "infra/terraform.tfstate",
        "infra/terraform.tfstate.backup",
        "infra/prod.tfvars",
        "infra/prod.tfvars.json",
    ],
)
def test_credential_files_are_known_by_name(path: str) -> None:
    assert DEFAULT_RULES.is_secret_path(path, is_dir=False)


@pytest.mark.parametrize(
    "path",
    [
        ".env.example",
        ".env.sample",
        ".env.template",
        "config/.env.dist",
        ".envoy.yaml",
        "environment.py",
        "src/keys.py",
        "docs/credentials.md",
        "k8s/service-account.yaml",
        "infra/main.tf",
        "app/config.json",
        ".config/gh/config.yml",
        "docker/config.json",
        "kube/config",
        "src/rsa_keys.py",
    ],
)
def test_ordinary_files_are_not_taken_for_credentials(path: str) -> None:
    assert not DEFAULT_RULES.is_secret_path(path, is_dir=False)


def test_credential_folders_are_refused_whole() -> None:
    for folder in ("home/.ssh", ".gnupg", "home/.config/gcloud", ".azure", ".envs"):
        assert DEFAULT_RULES.is_secret_path(folder, is_dir=True), folder
    assert not DEFAULT_RULES.is_secret_path("home/.config", is_dir=True)


def test_extra_patterns_add_files_and_a_negation_exempts_one() -> None:
    rules = SecretRules.parse("deploy/*.yaml, secrets/, !tests/fixtures/server.pem", True)
    assert rules.is_secret_path("deploy/values.yaml", False)
    assert rules.is_secret_path("secrets", True) and rules.is_secret_path("secrets/db.py", False)
    assert not rules.is_secret_path("tests/fixtures/server.pem", False)
    assert rules.is_secret_path("certs/server.pem", False)
    assert not rules.is_secret_path("app/values.yaml", False)


def test_the_settings_take_a_list_from_toml_and_a_string_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "pgcode.toml"
    config.write_text('secret_files = ["deploy/*.yaml", "!tests/fixtures/*.pem"]\nredact_secrets = false\n')
    loaded = Settings.load(config_file=config, env={})
    assert (loaded.secret_files, loaded.redact_secrets) == ("deploy/*.yaml,!tests/fixtures/*.pem", False)
    from_env = Settings.load(env={"PGCODE_SECRET_FILES": "a/*.yaml,b/", "PGCODE_REDACT_SECRETS": "yes"})
    assert (from_env.secret_files, from_env.redact_secrets) == ("a/*.yaml,b/", True)
    with pytest.raises(ConfigError, match="secret_files"):
        Settings.load(env={"PGCODE_SECRET_FILES": "deploy/*.yaml,!"})


# --- end to end: the real pipeline, the real database, the real server --------------------------

CREDENTIAL_FILES = [
    ".env",
    ".env.local",
    "config/prod.env",
    ".envrc",
    "certs/server.pem",
    "certs/server.key",
    "keys/client.p12",
    "keys/client.pfx",
    "android/app.keystore",
    "id_rsa",
    "id_ed25519",
    ".netrc",
    ".npmrc",
    ".pypirc",
    ".git-credentials",
    ".htpasswd",
    "home/.docker/config.json",
    "home/.kube/config",
    "kubeconfig",
    "home/.config/gh/hosts.yml",
    "home/.aws/credentials",
    "home/.aws/config",
    "application_default_credentials.json",
    "gcp/credentials.json",
    "gcp/service-account-prod.json",
    "infra/terraform.tfstate",
    "infra/terraform.tfstate.backup",
    "infra/prod.tfvars",
]
CREDENTIAL_FOLDERS = {"home/.ssh": "id_ecdsa", "home/.config/gcloud": "legacy_credentials.json", ".envs": "django.yaml"}


def _plant(root: Path) -> dict[str, str]:
    """A repository with every kind of credential file and tokens inside ordinary code, config and
    docs; returns every planted secret by a name."""
    planted: dict[str, str] = {}
    for i, rel in enumerate(CREDENTIAL_FILES + [f"{d}/{f}" for d, f in CREDENTIAL_FOLDERS.items()]):
        planted[rel] = f"credential-{i}-" + _random(24, seed=rel)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f"token: {planted[rel]}\n")
    planted |= {
        "github": "ghp_" + _random(36, seed="e2e"),
        "aws_id": "AKIA" + _random(16, string.ascii_uppercase + string.digits),
        "aws_secret": _random(40, BASE62 + "/+", seed="e2e"),
        "password": _random(18, seed="pw"),
        "slack": "xoxb-" + _random(12, string.digits) + "-" + _random(24, seed="slack"),
        "jwt": TOKENS["jwt"][0],
        "openai": "sk-" + _random(48, seed="e2e"),
        "npm": "npm_" + _random(36, seed="e2e"),
    }
    key = _pem("EC ", seed="e2e")
    planted["key_line"] = key.splitlines()[1]
    (root / "app").mkdir()
    (root / "app" / "settings.py").write_text(
        '"""Settings of the warehouse app."""\n'
        f'GITHUB_TOKEN = "{planted["github"]}"\n'
        f'AWS_ACCESS_KEY_ID = "{planted["aws_id"]}"\n'
        f'AWS_SECRET_ACCESS_KEY = "{planted["aws_secret"]}"\n'
        f'DATABASE_URL = "postgresql://app:{planted["password"]}@db.internal:5432/app"\n'
        f'SIGNING_KEY = """{key}"""\n'
        "\n\n"
        "def connect_to_the_warehouse(retries: int = 3) -> str:\n"
        f'    """Open the warehouse with the token {planted["openai"]} (rotated monthly)."""\n'
        "    return DATABASE_URL\n"
    )
    (root / "deploy").mkdir()
    (root / "deploy" / "values.yaml").write_text(
        f"slack:\n  token: {planted['slack']}\nauth:\n  bearer: {planted['jwt']}\nreplicas: 3\n"
    )
    (root / "docs").mkdir()
    (root / "docs" / "publishing.md").write_text(
        f"# Publishing\n\nSet `//registry.npmjs.org/:_authToken={planted['npm']}` in CI, then run the release.\n"
    )
    (root / "deploy_key.txt").write_text(_pem("OPENSSH ", seed="whole") + "\n")  # a key under an ordinary name
    (root / ".env.example").write_text("DATABASE_URL=\n")
    (root / "app" / "models.py").write_text("class Crate:\n    weight = 1\n")
    return planted


async def _leaks(conn: asyncpg.Connection, repository_id: int, secrets: list[str]) -> list[str]:
    """Secrets found in any text the index holds for the repository."""
    found = []
    for secret in secrets:
        hit = await conn.fetchval(
            """SELECT EXISTS (SELECT 1 FROM chunks WHERE repository_id = $1
                              AND (strpos(content, $2) > 0 OR strpos(header, $2) > 0 OR strpos(tsv::text, lower($2)) > 0))
                  OR EXISTS (SELECT 1 FROM symbols WHERE repository_id = $1 AND strpos(
                             concat_ws(' ', name, qualified_name, signature, docstring), $2) > 0)
                  OR EXISTS (SELECT 1 FROM edges WHERE repository_id = $1 AND strpos(target_name, $2) > 0)
                  OR EXISTS (SELECT 1 FROM files WHERE repository_id = $1 AND strpos(path, $2) > 0)""",
            repository_id,
            secret,
        )
        if hit:
            found.append(secret)
    return found


def _status(dsn: str) -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_server", "--database-url", dsn, "status", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return {r["repository"]: r for r in json.loads(done.stdout)["repositories"]}


def _data(result: CallToolResult) -> dict[str, Any]:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content
    first = result.content[0]
    assert isinstance(first, TextContent)
    return dict(json.loads(first.text))


async def test_planted_credentials_never_reach_the_index_nor_a_client(
    db: Database, settings: Settings, pg_dsn: str, tmp_path: Path
) -> None:
    root = tmp_path / "planted"
    root.mkdir()
    planted = _plant(root)
    report = await index_repository(db, settings, root, name="planted")

    # One count per credential file and per credential folder; the whole-key file is refused when read.
    assert report.skipped["secret"] == len(CREDENTIAL_FILES) + len(CREDENTIAL_FOLDERS) + 1
    async with db.pool.acquire() as conn:
        repo = await repositories.find(conn, "planted")
        paths = {r["path"] for r in await conn.fetch("SELECT path FROM files WHERE repository_id = $1", repo.id)}
        assert paths == {"app/settings.py", "app/models.py", "deploy/values.yaml", "docs/publishing.md"}
        assert await _leaks(conn, repo.id, list(planted.values())) == []
        # The redacted file is still indexed whole, at the lines it has on disk.
        line = await conn.fetchval(
            "SELECT start_line FROM symbols WHERE repository_id = $1 AND name = 'connect_to_the_warehouse'", repo.id
        )
        assert (
            line
            == (root / "app" / "settings.py")
            .read_text()
            .splitlines()
            .index("def connect_to_the_warehouse(retries: int = 3) -> str:")
            + 1
        )
        stats = await repositories.stats(conn, repo, "any-model")
    assert stats.redacted == {"files": 3, "secrets": 9}

    status = _status(pg_dsn)["planted"]
    assert status["skipped"]["secret"] == report.skipped["secret"]
    assert status["redacted"] == {"files": 3, "secrets": 9}

    async with connect("stdio", dsn=pg_dsn) as client:
        for secret in (planted["github"], planted["password"], planted["key_line"], planted[".env"]):
            result = await client.call_tool("grep", {"pattern": secret, "literal": True, "repository": "planted"})
            assert _data(result)["matches"] == [], secret
        result = await client.call_tool(
            "grep", {"pattern": "[REDACTED:github-token]", "literal": True, "repository": "planted"}
        )
        matches = _data(result)["matches"]
        assert [(m["path"], m["line"]) for m in matches] == [("app/settings.py", 2)]
        found = await client.call_tool(
            "search_code", {"query": "connect_to_the_warehouse", "repository": "planted", "mode": "keyword"}
        )
        assert _data(found)["results"][0]["path"] == "app/settings.py"


async def test_redaction_switched_off_stores_the_text_and_switched_on_again_rereads_it(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "switch"
    root.mkdir()
    planted = _plant(root)
    verbatim = dataclasses.replace(settings, redact_secrets=False)
    await index_repository(db, verbatim, root, name="switch")
    async with db.pool.acquire() as conn:
        repo = await repositories.find(conn, "switch")
        assert await _leaks(conn, repo.id, [planted["github"], planted["slack"]]) == [
            planted["github"],
            planted["slack"],
        ]
        assert (await repositories.stats(conn, repo, "m")).redacted == {"files": 0, "secrets": 0}
    # Credential files stay out whatever the switch: redaction is about the text of the others.
    assert "deploy_key.txt" in await _paths(db, repo.id) and ".env" not in await _paths(db, repo.id)

    # Nothing changed on disk: the new rules alone make the pass read every file again.
    report = await index_repository(db, settings, root, name="switch")
    assert (report.files_indexed, report.files_unchanged) == (3, 1)  # three files held tokens
    assert "deploy_key.txt" not in await _paths(db, repo.id)  # nothing but a key: dropped once read again
    async with db.pool.acquire() as conn:
        assert await _leaks(conn, repo.id, list(planted.values())) == []
        assert (await repositories.stats(conn, repo, "m")).redacted == {"files": 3, "secrets": 9}
    again = await index_repository(db, settings, root, name="switch")
    assert again.files_indexed == 0 and again.files_unchanged == 4


async def _paths(db: Database, repository_id: int) -> set[str]:
    async with db.pool.acquire() as conn:
        return {r["path"] for r in await conn.fetch("SELECT path FROM files WHERE repository_id = $1", repository_id)}


async def test_secret_files_setting_skips_more_files_and_exempts_others(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "extra"
    (root / "deploy").mkdir(parents=True)
    (root / "deploy" / "values.yaml").write_text("password: hunter2-but-longer\n")
    (root / "gcp").mkdir()
    (root / "gcp" / "credentials.json").write_text('{"note": "a fixture without secrets"}\n')
    (root / "main.py").write_text("def main():\n    return 0\n")
    await index_repository(db, settings, root, name="extra")
    async with db.pool.acquire() as conn:
        rid = (await repositories.find(conn, "extra")).id
    assert await _paths(db, rid) == {"deploy/values.yaml", "main.py"}

    custom = dataclasses.replace(settings, secret_files="deploy/*.yaml,!gcp/credentials.json")
    report = await index_repository(db, custom, root, name="extra")
    assert await _paths(db, rid) == {"gcp/credentials.json", "main.py"}
    assert report.skipped["secret"] == 1 and report.files_deleted == 1


async def test_the_watchers_fast_path_applies_the_same_rules(db: Database, settings: Settings, tmp_path: Path) -> None:
    root = tmp_path / "watched"
    root.mkdir()
    (root / "app.py").write_text("def run():\n    return 1\n")
    await index_repository(db, settings, root, name="watched")
    token = "ghp_" + _random(36, seed="watch")
    (root / "app.py").write_text(f"TOKEN = '{token}'\n\ndef run():\n    return 2\n")
    (root / ".env").write_text(f"GITHUB_TOKEN={token}\n")
    (root / "home" / ".ssh").mkdir(parents=True)
    (root / "home" / ".ssh" / "notes.md").write_text(f"# {token}\n")
    async with db.pool.acquire() as conn:
        repo = await repositories.find(conn, "watched")
    report = await index_paths(db, settings, repo, ["app.py", ".env", "home/.ssh/notes.md", "home"])
    assert report.skipped["secret"] == 3  # .env, the file in .ssh/, and .ssh/ itself found walking home/
    assert await _paths(db, repo.id) == {"app.py"}
    async with db.pool.acquire() as conn:
        assert await _leaks(conn, repo.id, [token]) == []
        assert (await repositories.stats(conn, repo, "m")).redacted == {"files": 1, "secrets": 1}


def test_discovery_counts_secret_before_the_type_check(tmp_path: Path) -> None:
    for rel in ("server.pem", "server.key", ".env", "notes.md"):
        (tmp_path / rel).write_text("x\n")
    found = discover(tmp_path, 1_000_000)
    assert [f.path for f in found.files] == ["notes.md"]
    assert found.skipped == {"secret": 3}
