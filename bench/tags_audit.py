"""A hand-checked audit of pgcode's call graph in Kotlin, Swift, C# and Ruby, where no language server installs here.

The corpora (bench/tags_corpora.py) are pinned packages: an npm package that ships an iOS (Swift)
and an Android (Kotlin) implementation, a Debian gem (Ruby) and a Debian source package (C#); their
sources are laid out under bench/corpora/lsp/roots/<corpus>/. pgcode indexes each (its own
embedded PostgreSQL), then with a fixed seed, per language:

  (a) resolved: call edges pgcode resolved into the repository, 40 at random, then topped up so
      that each confidence stratum (1.0/0.9, and 0.5) has at least 20;
  (b) sites: call-shaped uses (`name(`, `name {`; Ruby also `.name` and `name arg`) of a name some function or method of the
      repository has, picked from the source text whether or not pgcode resolved them.

Each item (site path:line, the line, pgcode's target qualified name and its definition line, or
"unresolved") goes to bench/annotations/tags_audit/<lang>.json with an empty `verdict`, filled by
reading the code: `right` (pgcode's target is the callee), `wrong` (it is another function of the
repository; give a `reason`), `missed` ((b) only: unresolved, though the callee is in the
repository), `not-in-repo` (the callee is a platform or library API; in (a) that makes the edge
wrong), `not-a-call` ((b) only: the text sampler's false hit, a call-shaped word in a comment or
string or `extension View {`; excluded, counted), `unsure` (excluded, counted).

A review file that exists is not resampled: pgcode's current answer is refreshed on each item,
and `was` keeps the answer a verdict was given for when it changed. A site now unresolved turns
`missed` (or stays `not-in-repo`); a sampled edge no longer made leaves the precision
(`no-longer-resolved`); any other new answer clears the verdict, to be given again.

    python bench/tags_audit.py --data-dir /tmp/audit-db            sample, or score the verdicts
    python bench/tags_audit.py --data-dir /tmp/audit-db --resample  draw anew (keeps the verdicts of
                                                                    items drawn again, same answer)
    python bench/tags_audit.py --data-dir /tmp/audit-db --language ruby --language csharp
    python bench/tags_audit.py --data-dir /tmp/audit-db --language ruby --language csharp \
        --seed 4321 --reviews bench/annotations/tags_audit/seed4321   a second draw, judged apart

The review files were drawn from the index of main's resolver at 45b02cb (before Kotlin/Swift
name guesses left out other files' `private` declarations, nested classes, `super.m()` in m's
override and members of a type of another name); the C# and Ruby ones from main's at a8e3bb9
(before the fixes their round made); a draw from a later index differs.

Scores: precision = right / judged resolved items, per stratum and weighted by the strata's shares
of all resolved edges ((b)'s resolved items are a row of their own); recall = (b)'s right / (b)'s
items whose callee is in the repository. Written to bench/results/tags_audit-latest.json.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from _common import add_database_arguments, claim_repository, machine, settings_for, table, write_result
from tags_corpora import CORPORA, LANGUAGES, AuditCorpus, corpus_root

from mcp_server.db.pool import open_database
from mcp_server.indexer.pipeline import index_repository
from mcp_server.logs import configure_logging

SEED = 1234
PER_LANGUAGE = 40
ANNOTATIONS = Path(__file__).resolve().parent / "annotations" / "tags_audit"  # apart from file_search's sets
VERDICTS = ("right", "wrong", "missed", "not-in-repo", "not-a-call", "unsure")
EXCLUDED = ("not-a-call", "unsure", "unjudged", "no-longer-resolved")


@dataclass(frozen=True, slots=True)
class _Shapes:
    """How a language's source text shows a call, a definition's own line and a comment."""

    call: re.Pattern[str]
    definition: re.Pattern[str]
    comment: re.Pattern[str]
    # a Kotlin property accessor or a Swift accessor block (`get() {`, `set(value) {`, `get {`): not a call
    accessor: re.Pattern[str] | None = None


_BRACES = _Shapes(
    call=re.compile(r"(?<![\w$@#])([A-Za-z_]\w*)\s*(?:\(|\{)"),
    definition=re.compile(r"\b(?:fun|func|init|class|struct|enum|protocol|interface|object)\b"),
    comment=re.compile(r"^\s*(?://|\*|/\*)"),
    accessor=re.compile(r"^\s*(?:(?:private|public|internal|protected)\s+)?(?:get|set|willSet|didSet)\b"),
)
SHAPES = {
    "kotlin": _BRACES,
    "swift": _BRACES,
    # `name(`, `name<T>(`; a declaration's line starts with modifiers or names a type kind
    "csharp": _Shapes(
        call=re.compile(r"(?<![\w@])([A-Za-z_]\w*)\s*(?:<[\w\s,.<>\[\]?]*>)?\s*\("),
        definition=re.compile(
            r"^\s*(?:(?:\[.*\]\s*)?(?:public|private|protected|internal|static|virtual|override|abstract"
            r"|sealed|async|extern|unsafe|partial)\s)|\b(?:class|struct|interface|enum|delegate)\s"
        ),
        comment=re.compile(r"^\s*(?://|\*|/\*|#)"),
    ),
    # `name(`, `.name` (not an assignment `.name =`), and a bare `name arg` or `name do`
    "ruby": _Shapes(
        call=re.compile(
            r"(?:(?<=\.)([a-z_]\w*[?!]?)(?!\s*=[^=~>]|\w)"
            r"|(?<![\w.:@$])([a-z_]\w*[?!]?)(?=\(|\s+(?:do\b|[\w:'\"@\[]))(?!\s+(?:if|unless|and|or|then|rescue)\b))"
        ),
        definition=re.compile(r"^\s*(?:def|class|module|alias|alias_method|attr_\w+)\b"),
        comment=re.compile(r"^\s*#"),
    ),
}


def stratum(confidence: float) -> str:
    # rounded: confidences are stored as `real`, and 0.9 reads back as 0.8999999761581421
    return "1.0/0.9" if round(confidence, 2) >= 0.9 else "0.5"


async def _load(conn: Any, repo: str, language: str) -> tuple[dict[int, dict[str, Any]], list[dict[str, Any]]]:
    """The language's symbols by id, and its call edges (resolved or not)."""
    rid = await conn.fetchval("SELECT id FROM repositories WHERE name = $1", repo)
    syms = {
        r["id"]: dict(r)
        for r in await conn.fetch(
            """SELECT s.id, f.path, s.kind, s.name, s.qualified_name, s.start_line
               FROM symbols s JOIN files f ON f.id = s.file_id WHERE s.repository_id = $1""",
            rid,
        )
    }
    edges = [
        dict(r)
        for r in await conn.fetch(
            """SELECT f.path, e.line, e.target_name, e.target_id, e.confidence
               FROM edges e JOIN files f ON f.id = e.file_id
               WHERE e.repository_id = $1 AND e.kind = 'calls' AND f.language = $2
               ORDER BY f.path, e.line, e.target_name""",
            rid,
            language,
        )
    ]
    return syms, edges


def _answer(edge: dict[str, Any] | None, syms: dict[int, dict[str, Any]]) -> dict[str, Any]:
    if edge is None or edge["target_id"] is None or edge["target_id"] not in syms:
        return {"target": "unresolved", "target_at": None, "confidence": None}
    t = syms[edge["target_id"]]
    return {
        "target": t["qualified_name"],
        "target_at": f"{t['path']}:{t['start_line']}",
        "confidence": round(edge["confidence"], 2),
    }


def _line(root: Path, path: str, line: int) -> str:
    lines = (root / path).read_text(errors="replace").splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _resolved_item(e: dict[str, Any], syms: dict[int, dict[str, Any]]) -> dict[str, Any]:
    return {
        "set": "resolved",
        "stratum": stratum(e["confidence"]),
        "site": f"{e['path']}:{e['line']}",
        "name": e["target_name"],
        **_answer(e, syms),
    }


def _in_repo(edges: list[dict[str, Any]], syms: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in edges if e["target_id"] is not None and e["target_id"] in syms]


def _sample_resolved(
    rng: random.Random, edges: list[dict[str, Any]], syms: dict[int, dict[str, Any]]
) -> list[dict[str, Any]]:
    """PER_LANGUAGE resolved edges at random (topped up per stratum by _top_up)."""
    resolved = _in_repo(edges, syms)
    return [_resolved_item(e, syms) for e in rng.sample(resolved, min(PER_LANGUAGE, len(resolved)))]


def _top_up(
    rng: random.Random, chosen: list[dict[str, Any]], edges: list[dict[str, Any]], syms: dict[int, dict[str, Any]]
) -> list[dict[str, Any]]:
    """More resolved edges of each stratum the random draw left with fewer than half of PER_LANGUAGE."""
    taken = {(it["site"], it["name"]) for it in chosen if it["set"] == "resolved"}
    out: list[dict[str, Any]] = []
    for name in ("1.0/0.9", "0.5"):
        have = sum(1 for it in chosen if it["set"] == "resolved" and it["stratum"] == name)
        pool = [
            e
            for e in _in_repo(edges, syms)
            if stratum(e["confidence"]) == name and (f"{e['path']}:{e['line']}", e["target_name"]) not in taken
        ]
        want = max(0, PER_LANGUAGE // 2 - have)
        out += [_resolved_item(e, syms) for e in rng.sample(pool, min(want, len(pool)))]
    return out


def _sample_sites(
    rng: random.Random,
    root: Path,
    language: str,
    edges: list[dict[str, Any]],
    syms: dict[int, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Call-shaped uses of a name some repository function or method has, from the source text."""
    paths = sorted({s["path"] for s in syms.values() if s["path"].endswith(LANGUAGES[language].languages[language])})
    defined = {s["name"] for s in syms.values() if s["kind"] in ("function", "method") and s["path"] in paths}
    at: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for e in edges:
        at[(e["path"], e["line"])].append(e)
    shapes = SHAPES[language]
    found: list[tuple[str, int, str]] = []
    for path in paths:
        for n, text in enumerate((root / path).read_text(errors="replace").splitlines(), 1):
            if shapes.comment.match(text) or shapes.definition.search(text):
                continue
            for m in shapes.call.finditer(text):
                name = next(g for g in m.groups() if g is not None)
                at_start = m.start() == len(text) - len(text.lstrip())
                if name in defined and not (at_start and shapes.accessor and shapes.accessor.match(text)):
                    found.append((path, n, name))
    out = []
    for path, line, name in rng.sample(found, min(PER_LANGUAGE, len(found))):
        edge = next((e for e in at[(path, line)] if _last_name(e["target_name"]) == [name]), None)
        out.append({"set": "sites", "site": f"{path}:{line}", "name": name, **_answer(edge, syms)})
    return out


_TYPE_ARGS = re.compile(r"<[^<>()]*>")


def _last_name(written: str) -> list[str]:
    """The last name of a written callee, with Ruby's `?` or `!` (`auth.correct_uri?`), without C#'s
    type arguments (`ReflectionUtils.GetAttribute<JsonExtensionDataAttribute>`)."""
    while (bare := _TYPE_ARGS.sub("", written)) != written:
        written = bare
    return re.findall(r"\w+[?!]?", written)[-1:]


def _refresh(item: dict[str, Any], fresh: dict[str, Any]) -> None:
    """Put pgcode's current answer on a judged item. When it changed, `was` keeps the answer the
    verdict was given for; a site's verdict follows when it can (unresolved now: a callee in the
    repository is missed, a library's stays not-in-repo), else it is cleared, to be given again."""
    now = {k: fresh[k] for k in ("target", "target_at", "confidence")}
    was = item.get("was")
    if was is not None and {k: was[k] for k in now} == now:  # back to the answer judged
        item.update(now, verdict=was["verdict"])
        del item["was"]
        return
    old = {k: item.get(k) for k in now}
    if old == now:
        return
    if item.get("verdict") and was is None:
        item["was"] = {**old, "verdict": item["verdict"], "reason": item.get("reason", "")}
    judged = item.get("was", {}).get("verdict", "")
    item.update(now)
    if now["target"] != "unresolved":
        item["verdict"] = ""
    elif item["set"] == "sites":
        item["verdict"] = "not-in-repo" if judged == "not-in-repo" else "missed" if judged else ""
    # a sampled resolved edge that is no longer resolved keeps its verdict and leaves the precision


async def _current(conn: Any, repo: str, language: str, items: list[dict[str, Any]]) -> None:
    syms, edges = await _load(conn, repo, language)
    at: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for e in edges:
        at[(e["path"], e["line"])].append(e)
    for item in items:
        path, line = item["site"].rsplit(":", 1)
        here = at[(path, int(line))]
        edge = next((e for e in here if e["target_name"] == item["name"]), None) or next(
            (e for e in here if _last_name(e["target_name"]) == _last_name(item["name"])),
            None,
        )
        _refresh(item, _answer(edge, syms))


def _keep_verdicts(items: list[dict[str, Any]], review: Path) -> None:
    """A new sample keeps the verdicts of the items the old review file judged with the same answer."""
    if not review.exists():
        return
    old = {_key(it): it for it in json.loads(review.read_text())["items"] if it.get("verdict") and "was" not in it}
    for it in items:
        if (judged := old.get(_key(it))) is not None:
            it["verdict"], it["reason"] = judged["verdict"], judged.get("reason", "")


def _key(item: dict[str, Any]) -> tuple[str, ...]:
    return (item["set"], item["site"], item["name"], item["target"])


def weighted(rows: dict[str, Any], population: dict[str, int]) -> dict[str, Any]:
    """All resolved edges' precision: each stratum's, weighted by its share of the edges (the
    strata are sampled alike, not in proportion)."""
    strata = [s for s in ("1.0/0.9", "0.5") if rows.get(f"resolved {s}", {}).get("precision") is not None]
    total = sum(population.get(s, 0) for s in strata)
    if not total:
        return {}
    p = sum(rows[f"resolved {s}"]["precision"] * population.get(s, 0) for s in strata) / total
    return {
        "resolved, weighted": {"precision": round(p, 3), "judged": sum(rows[f"resolved {s}"]["judged"] for s in strata)}
    }


async def _population(conn: Any, repo: str, language: str) -> dict[str, int]:
    """How many call edges pgcode resolved into the repository per stratum, and left unresolved."""
    syms, edges = await _load(conn, repo, language)
    out: dict[str, int] = defaultdict(int)
    for e in edges:
        out[stratum(e["confidence"]) if e["target_id"] in syms else "unresolved"] += 1
    return dict(sorted(out.items()))


def score(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Precision per stratum over resolved items, recall over (b)'s in-repo sites."""
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for it in items:
        v = it.get("verdict") or "unjudged"
        if v not in (*VERDICTS, "unjudged"):
            raise SystemExit(f"{it['site']}: verdict {v!r} is not one of {', '.join(VERDICTS)}")
        if it["set"] == "resolved":
            v = v if it["target"] != "unresolved" else "no-longer-resolved"
            rows[f"resolved {it['stratum']}"][v] += 1
        elif it["target"] != "unresolved":
            rows["sites, resolved"][v] += 1
        if it["set"] == "sites":
            rows["sites"][v] += 1
    out: dict[str, Any] = {}
    for key, counts in sorted(rows.items()):
        judged = sum(n for v, n in counts.items() if v not in EXCLUDED)
        entry: dict[str, Any] = {"counts": dict(counts), "judged": judged}
        if key == "sites":
            in_repo = counts["right"] + counts["wrong"] + counts["missed"]
            entry["recall"] = round(counts["right"] / in_repo, 3) if in_repo else None
            entry["in_repo"] = in_repo
        else:
            entry["precision"] = round(counts["right"] / judged, 3) if judged else None
        out[key] = entry
    return out


async def _audit(args: argparse.Namespace, audit: AuditCorpus, languages: list[str]) -> dict[str, Any]:
    """Index one corpus, sample or refresh its languages' review files, and score them."""
    root = corpus_root(audit).resolve()
    repo = f"bench-audit-{audit.name}"
    settings = settings_for(args.data_dir, args.database_url)
    results: dict[str, Any] = {}
    async with open_database(settings) as db:
        await claim_repository(db, repo, root, fresh=not args.reuse_index)
        await index_repository(db, settings, root, name=repo)
        async with db.pool.acquire() as conn:
            for language in languages:
                review = args.reviews / f"{language}.json"
                if review.exists() and not args.resample:
                    data = json.loads(review.read_text())
                    for it in data["items"]:
                        if it["set"] == "resolved":
                            it.setdefault("stratum", stratum((it.get("was") or it)["confidence"]))
                    await _current(conn, repo, language, data["items"])
                else:
                    rng = random.Random(f"{args.seed}-{language}")
                    syms, edges = await _load(conn, repo, language)
                    items = _sample_resolved(rng, edges, syms) + _sample_sites(rng, root, language, edges, syms)
                    items += _top_up(rng, items, edges, syms)
                    _keep_verdicts(items, review)
                    data = {
                        "corpus": audit.pinned,
                        "language": language,
                        "seed": args.seed,
                        "verdicts": " | ".join(VERDICTS),
                        "items": items,
                    }
                for it in data["items"]:
                    path, line = it["site"].rsplit(":", 1)
                    it["text"] = _line(root, path, int(line))
                    it.setdefault("verdict", "")
                    it.setdefault("reason", "")
                review.write_text(json.dumps(data, indent=1) + "\n")
                population = await _population(conn, repo, language)
                results[language] = {**score(data["items"]), **weighted(score(data["items"]), population)}
                results[language]["population"] = population
                results[language]["corpus"] = audit.pinned
    return results


async def _run(args: argparse.Namespace) -> None:
    args.reviews.mkdir(parents=True, exist_ok=True)
    wanted = args.language or list(LANGUAGES)
    results: dict[str, Any] = {}
    for audit in CORPORA:
        languages = [lang for lang in audit.languages if lang in wanted]
        if languages:
            results.update(await _audit(args, audit, languages))
    for language, rows in results.items():
        print(
            table(
                ("stratum", "judged", "precision", "recall", "counts"),
                [
                    (k, r["judged"], r.get("precision"), r.get("recall"), json.dumps(r.get("counts", "")))
                    for k, r in rows.items()
                    if k not in ("population", "corpus")
                ],
                title=f"\n{language} ({rows['corpus']}; call edges: {json.dumps(rows['population'])})",
            )
        )
    payload = {
        "benchmark": "tags_audit",
        "command": " ".join(sys.argv),
        "corpora": [audit.pinned for audit in CORPORA if set(audit.languages) & set(wanted)],
        "seed": args.seed,
        "truth": "hand-checked sample, bench/annotations/tags_audit/*.json",
        "machine": machine(),
        "per_language": results,
    }
    print(f"\nwrote {write_result('tags_audit', payload)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_database_arguments(parser)
    parser.add_argument("--seed", type=int, default=SEED, help=f"sampling seed (default {SEED})")
    parser.add_argument(
        "--resample", action="store_true", help="draw a new sample (verdicts of items drawn again are kept)"
    )
    parser.add_argument(
        "--language", action="append", choices=sorted(LANGUAGES), help="audit only this language (repeatable)"
    )
    parser.add_argument(
        "--reviews",
        type=Path,
        default=ANNOTATIONS,
        help=f"folder of the review files (default {ANNOTATIONS}; a second draw, e.g. --seed 4321, goes apart)",
    )
    parser.add_argument("--reuse-index", action="store_true", help="keep the corpus's index from an earlier run")
    args = parser.parse_args()
    configure_logging("warning")
    anyio.run(_run, args)


if __name__ == "__main__":  # spawned index workers import this module: run only when executed
    main()
