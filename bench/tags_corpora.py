"""The hand-checked audit's corpora (bench/tags_audit.py): pinned packages, fetched once, laid out per language."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lsp_corpora


@dataclass(frozen=True, slots=True)
class AuditCorpus:
    corpus: lsp_corpora.LspCorpus
    languages: dict[str, tuple[str, ...]]  # pgcode language -> the file extensions sampled
    under: str  # the folder inside the unpacked package whose sources are copied into the root

    @property
    def name(self) -> str:
        return self.corpus.name

    @property
    def pinned(self) -> str:
        return self.corpus.pinned


CORPORA = (
    # an npm package that ships an iOS (Swift) and an Android (Kotlin) implementation
    AuditCorpus(
        lsp_corpora.LspCorpus("expo-modules-core", "swift", "npm", "expo-modules-core", "2.5.0"),
        {"kotlin": (".kt",), "swift": (".swift",)},
        "package",
    ),
    # Debian's gem: the library under lib/, as `require "rack/request"` finds it
    AuditCorpus(
        lsp_corpora.LspCorpus("rack", "ruby", "deb", "ruby-rack", "2.2.22-0+deb12u1"),
        {"ruby": (".rb",)},
        "usr/share/rubygems-integration/all/gems/rack-2.2.22",
    ),
    # Debian's source package (its upstream tarball): the library, not its tests
    AuditCorpus(
        lsp_corpora.LspCorpus("newtonsoft-json", "csharp", "debsrc", "newtonsoft-json", "6.0.8+dfsg-1.1"),
        {"csharp": (".cs",)},
        "newtonsoft-json-6.0.8/Src/Newtonsoft.Json",
    ),
)
LANGUAGES = {lang: c for c in CORPORA for lang in c.languages}


def _upstream(corpus: lsp_corpora.LspCorpus) -> Path:
    """A Debian source package's upstream tarball, unpacked (`apt-get source --download-only`:
    the mirror may lack the Debian part, which the sources do not need)."""
    target = lsp_corpora.LSP_CACHE / "src" / f"{corpus.package}-{corpus.version}"
    if (target / ".complete").exists():
        return target
    work = lsp_corpora.LSP_CACHE / "pkg" / "debsrc"
    work.mkdir(parents=True, exist_ok=True)
    upstream = corpus.version.split("-")[0].split(":")[-1]
    tarball = work / f"{corpus.package}_{upstream}.orig.tar.gz"
    if not tarball.exists():
        options = lsp_corpora._apt_options()
        subprocess.run(["apt-get", "-q", *options, "source", "--download-only", corpus.pinned], cwd=work, check=False)
    if not tarball.exists():
        raise RuntimeError(f"apt-get source {corpus.pinned} left no {tarball.name} in {work}")
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        tar.extractall(target, filter="data")
    (target / ".complete").write_text("ok\n")
    return target


_FETCH: dict[str, Callable[[lsp_corpora.LspCorpus], Path]] = {"debsrc": _upstream}


def corpus_root(audit: AuditCorpus) -> Path:
    """The corpus's sources of its audited languages (fetched and laid out once)."""
    root = lsp_corpora.LSP_CACHE / "roots" / audit.name
    if (root / ".complete").exists():
        return root
    package = _FETCH.get(audit.corpus.source, lsp_corpora._unpacked)(audit.corpus) / audit.under
    if root.exists():
        shutil.rmtree(root)
    wanted = tuple(ext for exts in audit.languages.values() for ext in exts)
    for src in sorted(package.rglob("*")):
        if src.is_file() and src.name.endswith(wanted):
            target = root / src.relative_to(package)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    (root / ".complete").write_text("ok\n")
    return root
