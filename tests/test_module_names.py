"""Module names from paths: the package chain, namespace folders inside a package included."""

from __future__ import annotations

from mcp_server.index.modules import module_names


def test_a_folder_without_init_inside_a_package_is_part_of_the_module_name() -> None:
    paths = [
        "src/flask/__init__.py",
        "src/flask/app.py",
        "src/flask/sansio/app.py",
        "src/flask/sansio/deep/scaffold.py",
        "tests/test_app.py",
        "src/flask/static/app.js",
    ]
    languages = {p: "javascript" if p.endswith(".js") else "python" for p in paths}
    names = module_names(paths, languages)
    assert names["src/flask/__init__.py"] == "flask"
    assert names["src/flask/app.py"] == "flask.app"
    assert names["src/flask/sansio/app.py"] == "flask.sansio.app"
    assert names["src/flask/sansio/deep/scaffold.py"] == "flask.sansio.deep.scaffold"
    # Outside any package a folder is a place on sys.path, not part of the name.
    assert names["tests/test_app.py"] == "test_app"
    assert names["src/flask/static/app.js"] == "src.flask.static.app"
