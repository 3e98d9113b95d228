"""Python parser: symbols, qualified names, spans and the candidates of every graph edge."""

from __future__ import annotations

import textwrap

from mcp_server.index.parsers.python import parse
from mcp_server.index.records import (
    CONF_EXACT,
    CONF_SCOPED,
    CONF_UNIQUE,
    NAME_FALLBACK,
    TYPE_OF,
    ParsedFile,
    RawEdge,
    Symbol,
)


def _parse(source: str, path: str = "pkg/mod.py", module: str = "pkg.mod") -> ParsedFile:
    return parse(textwrap.dedent(source).encode(), path, module, "python")


def _symbol(parsed: ParsedFile, qualified_name: str) -> Symbol:
    matches = [s for s in parsed.symbols if s.qualified_name == qualified_name]
    assert len(matches) == 1, (qualified_name, [s.qualified_name for s in parsed.symbols])
    return matches[0]


def _edges(parsed: ParsedFile, kind: str, target_name: str) -> list[RawEdge]:
    return [e for e in parsed.edges if e.kind == kind and e.target_name == target_name]


def _edge(parsed: ParsedFile, kind: str, target_name: str) -> RawEdge:
    matches = _edges(parsed, kind, target_name)
    assert len(matches) == 1, (kind, target_name, [(e.kind, e.target_name) for e in parsed.edges])
    return matches[0]


def _source_name(parsed: ParsedFile, edge: RawEdge) -> str:
    return parsed.symbols[edge.source].qualified_name


# ---- symbols ----------------------------------------------------------------------------------


def test_the_module_symbol_comes_first_and_spans_the_whole_file() -> None:
    parsed = _parse(
        '''\
        """Sessions, signed.

            Indented detail.
        """
        x = 1
        ''',
        path="flask/sessions.py",
        module="flask.sessions",
    )
    module = parsed.symbols[0]
    assert (module.kind, module.name, module.qualified_name) == ("module", "sessions", "flask.sessions")
    assert (module.start_line, module.end_line, module.parent, module.signature) == (1, 5, None, "")
    assert module.docstring == "Sessions, signed.\n\nIndented detail."
    assert not parsed.has_errors


def test_a_package_init_module_is_named_after_the_package() -> None:
    parsed = _parse("", path="flask/__init__.py", module="flask")
    assert parsed.symbols[0].name == "flask"


def test_an_empty_file_is_just_its_module_symbol() -> None:
    parsed = _parse("")
    assert len(parsed.symbols) == 1 and parsed.edges == []
    assert (parsed.symbols[0].start_line, parsed.symbols[0].end_line) == (1, 1)
    assert parsed.symbols[0].docstring is None and not parsed.has_errors


def test_a_file_of_only_comments_has_no_docstring_and_no_edges() -> None:
    parsed = _parse("# one\n# two\n")
    assert len(parsed.symbols) == 1 and parsed.edges == []
    assert parsed.symbols[0].end_line == 2 and parsed.symbols[0].docstring is None


def test_methods_are_qualified_by_their_class_with_lines_signature_and_docstring() -> None:
    parsed = _parse(
        '''\
        class SecureCookieSessionInterface:
            """Signs cookies."""

            def get_signing_serializer(self, app):
                """Return a serializer.

                None if no secret key.
                """
                return None
        ''',
        path="flask/sessions.py",
        module="flask.sessions",
    )
    cls = _symbol(parsed, "flask.sessions.SecureCookieSessionInterface")
    method = _symbol(parsed, "flask.sessions.SecureCookieSessionInterface.get_signing_serializer")
    assert (cls.kind, cls.start_line, cls.end_line, cls.parent) == ("class", 1, 9, 0)
    assert cls.signature == "class SecureCookieSessionInterface"
    assert cls.docstring == "Signs cookies."
    assert (method.kind, method.name, method.start_line, method.end_line) == ("method", "get_signing_serializer", 4, 9)
    assert method.signature == "def get_signing_serializer(self, app)"
    assert method.docstring == "Return a serializer.\n\nNone if no secret key."
    assert parsed.symbols[method.parent or 0] is cls


def test_nested_functions_and_classes_are_qualified_through_every_enclosing_definition() -> None:
    parsed = _parse("""\
        def outer():
            def inner():
                class Local:
                    def method(self):
                        def helper():
                            pass
        """)
    kinds = {s.qualified_name: s.kind for s in parsed.symbols[1:]}
    assert kinds == {
        "pkg.mod.outer": "function",
        "pkg.mod.outer.inner": "function",
        "pkg.mod.outer.inner.Local": "class",
        "pkg.mod.outer.inner.Local.method": "method",
        "pkg.mod.outer.inner.Local.method.helper": "function",
    }
    helper = _symbol(parsed, "pkg.mod.outer.inner.Local.method.helper")
    assert parsed.symbols[helper.parent or 0].qualified_name == "pkg.mod.outer.inner.Local.method"


def test_a_decorated_definition_spans_its_decorators_but_its_signature_does_not() -> None:
    parsed = _parse("""\
        class Cache:
            @property
            @functools.cache
            def size(self) -> int:
                return 0

            @staticmethod
            async def fetch(
                key: str,  # the cache key
                default=None,
            ) -> bytes:
                pass
        """)
    size = _symbol(parsed, "pkg.mod.Cache.size")
    assert (size.kind, size.start_line, size.end_line) == ("method", 2, 5)
    assert size.signature == "def size(self) -> int"
    fetch = _symbol(parsed, "pkg.mod.Cache.fetch")
    assert fetch.kind == "method" and fetch.start_line == 7
    assert fetch.signature == "async def fetch(key: str, default=None) -> bytes"


def test_class_signatures_keep_their_bases_and_keywords() -> None:
    parsed = _parse("class Model(Base, metaclass=ModelBase):\n    pass\n")
    assert _symbol(parsed, "pkg.mod.Model").signature == "class Model(Base, metaclass=ModelBase)"


def test_module_level_names_and_class_attributes_are_symbols_but_locals_and_machinery_are_not() -> None:
    parsed = _parse('''\
        MAX_SIZE = 10
        """Largest size."""
        JSON: TypeAlias = dict[str, object]
        logger = get_logger()
        __all__ = ["MAX_SIZE"]
        __version__ = "1.0"
        try:
            from fast import dumps
        except ImportError:
            dumps = None
        print(dumps)

        class Options:
            ordering = ()
            verbose: bool = False

            def method(self):
                LOCAL = 1
                self.runtime = 2
        ''')
    kinds = {s.qualified_name: s.kind for s in parsed.symbols[1:]}
    assert kinds == {
        "pkg.mod.MAX_SIZE": "variable",
        "pkg.mod.JSON": "variable",
        "pkg.mod.logger": "variable",
        "pkg.mod.__version__": "variable",
        "pkg.mod.dumps": "variable",
        "pkg.mod.Options": "class",
        "pkg.mod.Options.ordering": "attribute",
        "pkg.mod.Options.verbose": "attribute",
        "pkg.mod.Options.method": "method",
    }
    # The import comes first; the fallback assignment when the import leads outside the repository.
    assert _edge(parsed, "references", "dumps").candidates == (
        ("fast.dumps", CONF_EXACT),
        ("pkg.mod.dumps", CONF_SCOPED),
    )
    constant = _symbol(parsed, "pkg.mod.MAX_SIZE")
    assert (constant.signature, constant.docstring, constant.start_line) == ("MAX_SIZE = 10", "Largest size.", 1)
    assert _symbol(parsed, "pkg.mod.Options.ordering").parent == parsed.symbols.index(
        _symbol(parsed, "pkg.mod.Options")
    )


def test_raw_and_escaped_docstrings_are_decoded() -> None:
    parsed = _parse('''\
        def a():
            r"""Matches \\d+."""

        def b():
            "Two\\nlines."

        def c():
            f"""Not a docstring {a}."""
        ''')
    assert _symbol(parsed, "pkg.mod.a").docstring == "Matches \\d+."
    assert _symbol(parsed, "pkg.mod.b").docstring == "Two\nlines."
    assert _symbol(parsed, "pkg.mod.c").docstring is None


def test_a_crlf_file_has_plain_newlines_in_docstrings_and_right_lines() -> None:
    source = b'"""Doc.\r\n\r\n    More.\r\n"""\r\nclass A:\r\n    def m(self):\r\n        self.n()\r\n'
    parsed = parse(source, "pkg/mod.py", "pkg.mod", "python")
    assert parsed.symbols[0].docstring == "Doc.\n\nMore."
    assert (_symbol(parsed, "pkg.mod.A.m").start_line, _edge(parsed, "calls", "self.n").line) == (6, 7)


# ---- imports ----------------------------------------------------------------------------------


def test_plain_imports_bind_their_first_name_and_aliases_bind_the_alias() -> None:
    parsed = _parse("import os.path\nimport numpy as np\n")
    os_path = _edge(parsed, "imports", "os.path")
    assert (os_path.candidates, os_path.alias, os_path.line, os_path.source) == ((("os.path", CONF_EXACT),), "os", 1, 0)
    numpy = _edge(parsed, "imports", "numpy")
    assert numpy.candidates == (("numpy", CONF_EXACT),) and numpy.alias == "np"


def test_relative_imports_in_a_module_resolve_from_its_parent_package() -> None:
    parsed = _parse(
        "from .helpers import x as y\nfrom . import sibling\nfrom ..core import Base\n",
        path="pkg/sub/mod.py",
        module="pkg.sub.mod",
    )
    helper = _edge(parsed, "imports", ".helpers.x")
    assert helper.candidates == (("pkg.sub.helpers.x", CONF_EXACT),) and helper.alias == "y"
    assert _edge(parsed, "imports", ".sibling").candidates == (("pkg.sub.sibling", CONF_EXACT),)
    assert _edge(parsed, "imports", "..core.Base").candidates == (("pkg.core.Base", CONF_EXACT),)


def test_relative_imports_in_a_package_init_resolve_from_the_package_itself() -> None:
    parsed = _parse("from .cart import Cart\nfrom .. import shared\n", path="shop/sub/__init__.py", module="shop.sub")
    cart = _edge(parsed, "imports", ".cart.Cart")
    assert cart.candidates == (("shop.sub.cart.Cart", CONF_EXACT),) and cart.alias == "Cart"
    assert _edge(parsed, "imports", "..shared").candidates == (("shop.shared", CONF_EXACT),)


def test_a_star_import_is_one_edge_to_the_module() -> None:
    parsed = _parse("from django.db.models.fields import *\n")
    star = _edge(parsed, "imports", "django.db.models.fields.*")
    assert star.alias is None and star.candidates == (("django.db.models.fields", CONF_EXACT),)


def test_an_import_inside_a_function_belongs_to_that_function_and_its_scope() -> None:
    parsed = _parse("""\
        def run():
            from app.tasks import send as deliver
            deliver()

        def other():
            deliver()
        """)
    assert _source_name(parsed, _edge(parsed, "imports", "app.tasks.send")) == "pkg.mod.run"
    inside, outside = _edges(parsed, "calls", "deliver")
    assert inside.candidates == (("app.tasks.send", CONF_EXACT),)
    assert outside.candidates == ()


# ---- calls ------------------------------------------------------------------------------------


def test_a_call_through_an_aliased_from_import_names_the_original() -> None:
    parsed = _parse("from a.b import f as g\n\ndef run():\n    g(1)\n")
    call = _edge(parsed, "calls", "g")
    assert call.candidates == (("a.b.f", CONF_EXACT),)
    assert (_source_name(parsed, call), call.line) == ("pkg.mod.run", 4)


def test_a_dotted_call_expands_the_module_an_import_binds() -> None:
    parsed = _parse("""\
        import os.path
        import numpy as np
        from django.db import models

        os.path.join("a", "b")
        np.array([])
        models.CharField(max_length=3)
        """)
    assert _edge(parsed, "calls", "os.path.join").candidates == (("os.path.join", CONF_EXACT),)
    assert _edge(parsed, "calls", "np.array").candidates == (("numpy.array", CONF_EXACT),)
    assert _edge(parsed, "calls", "models.CharField").candidates == (("django.db.models.CharField", CONF_EXACT),)


def test_calls_to_functions_and_classes_of_the_same_file_are_exact_even_before_their_definition() -> None:
    parsed = _parse("""\
        def run():
            helper()
            return Widget()

        def helper():
            pass

        class Widget:
            pass
        """)
    assert _edge(parsed, "calls", "helper").candidates == (("pkg.mod.helper", CONF_EXACT),)
    assert _edge(parsed, "calls", "Widget").candidates == (("pkg.mod.Widget", CONF_EXACT),)


def test_a_nested_function_call_names_the_nested_definition() -> None:
    parsed = _parse("""\
        def outer():
            def inner():
                return inner()
            return inner()
        """)
    calls = _edges(parsed, "calls", "inner")
    assert [c.candidates for c in calls] == [(("pkg.mod.outer.inner", CONF_EXACT),)] * 2
    assert [(c.line, _source_name(parsed, c)) for c in calls] == [(3, "pkg.mod.outer.inner"), (4, "pkg.mod.outer")]


def test_local_variables_and_parameters_shadow_module_definitions() -> None:
    parsed = _parse("""\
        def handler():
            pass

        def run(callback):
            callback()
            handler = make()
            handler()

        def uses_module_level():
            handler()
        """)
    callback = _edge(parsed, "calls", "callback")
    assert callback.candidates == ()
    shadowed, module_level = _edges(parsed, "calls", "handler")
    assert shadowed.candidates == ()
    assert module_level.candidates == (("pkg.mod.handler", CONF_EXACT),)


def test_builtins_are_calls_without_candidates() -> None:
    parsed = _parse("print(len([]))\n")
    assert _edge(parsed, "calls", "print").candidates == ()
    assert _edge(parsed, "calls", "len").candidates == ()


def test_self_and_cls_calls_name_the_enclosing_class_even_from_a_nested_function() -> None:
    parsed = _parse("""\
        class Cart:
            def total(self):
                return self.subtotal()

            @classmethod
            def empty(cls):
                return cls.create()

            def later(self):
                def callback():
                    return self.total()
                return callback
        """)
    assert _edge(parsed, "calls", "self.subtotal").candidates == (("pkg.mod.Cart.subtotal", CONF_EXACT),)
    assert _edge(parsed, "calls", "cls.create").candidates == (("pkg.mod.Cart.create", CONF_EXACT),)
    nested = _edge(parsed, "calls", "self.total")
    assert nested.candidates == (("pkg.mod.Cart.total", CONF_EXACT),)
    assert _source_name(parsed, nested) == "pkg.mod.Cart.later.callback"


def test_a_staticmethod_has_no_self() -> None:
    parsed = _parse("""\
        class Tool:
            @staticmethod
            def build(self):
                self.run()
        """)
    assert _edge(parsed, "calls", "self.run").candidates == ()


def test_super_calls_try_each_base_in_order() -> None:
    parsed = _parse("""\
        from django.db import models

        class Base:
            pass

        class Article(models.Model, Base):
            def save(self, *args):
                super().save(*args)
        """)
    call = _edge(parsed, "calls", "super().save")
    assert call.candidates == (("django.db.models.Model.save", CONF_SCOPED), ("pkg.mod.Base.save", CONF_SCOPED))
    assert _source_name(parsed, call) == "pkg.mod.Article.save"


def test_a_method_called_on_a_module_level_class_is_exact() -> None:
    parsed = _parse("class Registry:\n    pass\n\nRegistry.default()\n")
    assert _edge(parsed, "calls", "Registry.default").candidates == (("pkg.mod.Registry.default", CONF_EXACT),)


def test_a_receiver_built_by_a_constructor_or_annotated_gets_its_class_method() -> None:
    parsed = _parse("""\
        from shop import Cart
        from typing import Optional

        class Order:
            pass

        def checkout(order: Order, maybe: Optional[Order] = None, later: "Order" = None):
            cart = Cart()
            cart.add(1)
            order.pay()
            maybe.pay()
            later.pay()
            typed: Cart = load()
            typed.clear()
            Cart().empty()
        """)
    assert _edge(parsed, "calls", "cart.add").candidates == (("shop.Cart.add", CONF_SCOPED),)
    assert _edge(parsed, "calls", "order.pay").candidates == (("pkg.mod.Order.pay", CONF_SCOPED),)
    assert _edge(parsed, "calls", "maybe.pay").candidates == (("pkg.mod.Order.pay", CONF_SCOPED),)
    assert _edge(parsed, "calls", "later.pay").candidates == (("pkg.mod.Order.pay", CONF_SCOPED),)
    assert _edge(parsed, "calls", "typed.clear").candidates == (("shop.Cart.clear", CONF_SCOPED),)
    assert _edge(parsed, "calls", "Cart().empty").candidates == (("shop.Cart.empty", CONF_SCOPED),)


def test_a_receiver_of_unknown_or_conflicting_type_has_no_candidates() -> None:
    parsed = _parse("""\
        from shop import Cart, Basket, make_cart

        def run(flag, anything):
            made = make_cart()
            made.add()
            either = Cart() if flag else Basket()
            either.add()
            mixed = Cart()
            mixed = Basket()
            mixed.add()
            anything.add()
        """)
    for target in ("either.add", "mixed.add", "anything.add"):
        assert _edge(parsed, "calls", target).candidates == (), target
    # What an imported function returns is its own type edge's to say (records.TYPE_OF), in
    # another file: the resolver finishes the path, else the name is tried.
    assert _edge(parsed, "calls", "made.add").candidates == (("shop.make_cart.add", 0.9), ("*", 0.5))


def test_an_instance_attribute_assigned_a_constructor_types_calls_through_self() -> None:
    parsed = _parse("""\
        from io import StringIO

        class Command:
            buffer = None

            def __init__(self, client: "Client"):
                self.buffer = StringIO()
                self.client = client

            def run(self):
                self.buffer.write("x")
                self.client.get()

        class Client:
            pass
        """)
    assert _edge(parsed, "calls", "self.buffer.write").candidates == (("io.StringIO.write", CONF_SCOPED),)
    assert _edge(parsed, "calls", "self.client.get").candidates == (("pkg.mod.Client.get", CONF_SCOPED),)


def test_a_module_level_instance_is_a_variable_with_a_type_edge_to_its_class() -> None:
    parsed = _parse("""\
        from django.utils.functional import lazy

        class Apps:
            pass

        apps = Apps()
        settings: "Apps" = make()
        gettext_lazy = lazy(str)
        either = Apps()
        either = make()
        """)
    types = {
        parsed.symbols[e.source].qualified_name: (e.target_name, e.line, e.candidates)
        for e in parsed.edges
        if e.alias == TYPE_OF
    }
    # Only a certain type makes an edge: conflicting assignments do not. A function's result is
    # what that function's own type edge says (the resolver follows both).
    assert types == {
        "pkg.mod.apps": ("Apps", 6, (("pkg.mod.Apps", CONF_EXACT),)),
        "pkg.mod.settings": ("Apps", 7, (("pkg.mod.Apps", CONF_EXACT),)),
        "pkg.mod.gettext_lazy": ("lazy", 8, (("django.utils.functional.lazy", CONF_EXACT),)),
    }
    assert all(e.kind == "references" for e in parsed.edges if e.alias == TYPE_OF)
    for name in ("apps", "settings", "gettext_lazy", "either"):
        assert _symbol(parsed, f"pkg.mod.{name}").kind == "variable"


def test_an_instance_attribute_of_certain_type_is_a_typed_attribute_symbol() -> None:
    parsed = _parse("""\
        from .wrappers import OutputWrapper

        class BaseCommand:
            stderr = None

            def __init__(self, out, env: "Env"):
                self.stdout = OutputWrapper(out)
                self.stderr = OutputWrapper(out)
                self.style = out
                self.env = env

        class Env:
            pass
        """)
    stdout = _symbol(parsed, "pkg.mod.BaseCommand.stdout")
    assert (stdout.kind, stdout.start_line, parsed.symbols[stdout.parent].qualified_name) == (
        "attribute",
        7,
        "pkg.mod.BaseCommand",
    )
    types = {
        parsed.symbols[e.source].qualified_name: (e.target_name, e.candidates)
        for e in parsed.edges
        if e.alias == TYPE_OF
    }
    assert types == {  # the class-body `stderr = None` symbol carries the type; `style` has none
        "pkg.mod.BaseCommand.stdout": ("OutputWrapper", (("pkg.wrappers.OutputWrapper", CONF_EXACT),)),
        "pkg.mod.BaseCommand.stderr": ("OutputWrapper", (("pkg.wrappers.OutputWrapper", CONF_EXACT),)),
        "pkg.mod.BaseCommand.env": ("Env", (("pkg.mod.Env", CONF_EXACT),)),  # an annotated parameter
    }
    assert not [s for s in parsed.symbols if s.name == "style"]


def test_an_attribute_the_class_never_assigns_is_looked_up_on_its_bases_then_by_name() -> None:
    parsed = _parse("""\
        from .base import BaseCommand

        class Command(BaseCommand):
            def handle(self):
                self.stderr.write("x")
                self.own.write("y")

            def setup(self, own):
                self.own = own
        """)
    assert _edge(parsed, "calls", "self.stderr.write").candidates == (
        ("pkg.mod.Command.stderr.write", CONF_SCOPED),
        (NAME_FALLBACK, CONF_UNIQUE),
    )
    assert _edge(parsed, "calls", "self.own.write").candidates == ()


def test_an_attribute_of_a_typed_variable_is_looked_up_on_its_class_then_by_name() -> None:
    parsed = _parse("""\
        from .nodes import EvalContext

        def visit(ctx: EvalContext, other):
            ctx.environment.getattr("x")
            other.environment.getattr("y")
        """)
    assert _edge(parsed, "calls", "ctx.environment.getattr").candidates == (
        ("pkg.nodes.EvalContext.environment.getattr", CONF_SCOPED),
        (NAME_FALLBACK, CONF_UNIQUE),
    )
    assert _edge(parsed, "calls", "other.environment.getattr").candidates == ()


def test_a_return_annotation_in_the_file_types_the_call_s_value() -> None:
    parsed = _parse("""\
        from typing import Any

        class Node:
            def copy(self) -> "Node":
                return self

            def walk(self):
                self.copy().render()

        def build() -> Node:
            return Node()

        def vague() -> Any:
            pass

        def use():
            build().render()
            made = build()
            made.render()
            unknown = vague()
            unknown.render()
        """)
    for target in ("self.copy().render", "build().render", "made.render"):
        assert _edge(parsed, "calls", target).candidates == (("pkg.mod.Node.render", CONF_SCOPED),), target
    assert _edge(parsed, "calls", "unknown.render").candidates == ()


def test_a_class_attribute_built_by_a_call_does_not_type_instances() -> None:
    parsed = _parse("""\
        from django.db import models

        class Comment(models.Model):
            author = models.ForeignKey("User", on_delete=models.CASCADE)

            def notify(self):
                self.author.check()
        """)
    assert _edge(parsed, "calls", "self.author.check").candidates == ()


def test_decorator_calls_belong_to_the_decorated_definition() -> None:
    parsed = _parse("""\
        from flask import Flask

        app = Flask(__name__)

        @app.route("/")
        def index():
            return helper()
        """)
    route = _edge(parsed, "calls", "app.route")
    assert _source_name(parsed, route) == "pkg.mod.index" and route.line == 5
    assert route.candidates == (("flask.Flask.route", CONF_SCOPED),)


def test_calls_in_lambdas_and_comprehensions_belong_to_the_enclosing_function() -> None:
    parsed = _parse("""\
        def helper(x):
            return x

        def run(items):
            key = lambda item: helper(item)
            return [helper(i) for i in items], {k: helper(k) for k in items}
        """)
    calls = _edges(parsed, "calls", "helper")
    assert len(calls) == 3
    assert {_source_name(parsed, c) for c in calls} == {"pkg.mod.run"}
    assert all(c.candidates == (("pkg.mod.helper", CONF_EXACT),) for c in calls)


def test_comprehension_and_lambda_variables_shadow_outer_names() -> None:
    parsed = _parse("""\
        def f():
            pass

        results = [f() for f in handlers]
        apply = lambda f: f()
        """)
    assert [e.candidates for e in _edges(parsed, "calls", "f")] == [(), ()]


def test_method_bodies_do_not_see_class_level_names() -> None:
    parsed = _parse("""\
        def render():
            pass

        class View:
            def render(self):
                return render()

            template = render()
        """)
    in_method, in_class_body = _edges(parsed, "calls", "render")
    assert in_method.candidates == (("pkg.mod.render", CONF_EXACT),)
    assert in_class_body.candidates == (("pkg.mod.View.render", CONF_EXACT),)


def test_chained_and_subscripted_callees_are_recorded_without_guessing() -> None:
    parsed = _parse('handlers[0](1)\nget_factory()().build()\n", ".join([])\n')
    assert _edge(parsed, "calls", "handlers[]").candidates == ()
    assert _edge(parsed, "calls", "get_factory()().build").candidates == ()
    assert _edge(parsed, "calls", '"".join').candidates == ()


def test_calls_inside_f_strings_are_found() -> None:
    parsed = _parse('def helper():\n    pass\n\nmessage = f"{helper()!r:>{width()}}"\n')
    assert _edge(parsed, "calls", "helper").candidates == (("pkg.mod.helper", CONF_EXACT),)
    assert _edge(parsed, "calls", "width").candidates == ()


def test_names_from_a_star_import_are_scoped_guesses() -> None:
    parsed = _parse("from django.db.models import *\n\nfield = CharField()\nlen(field)\n")
    assert _edge(parsed, "calls", "CharField").candidates == (("django.db.models.CharField", CONF_SCOPED),)
    assert _edge(parsed, "calls", "len").candidates == ()


def test_the_line_of_a_multi_line_method_call_is_the_line_of_the_method_name() -> None:
    parsed = _parse("query = (\n    Entry.objects\n    .filter(a=1)\n)\n")
    assert _edge(parsed, "calls", "Entry.objects.filter").line == 3


# ---- inherits ---------------------------------------------------------------------------------


def test_bases_are_inherits_edges_resolved_like_names() -> None:
    parsed = _parse("""\
        from django.db import models
        from typing import Generic, TypeVar

        T = TypeVar("T")

        class Base:
            pass

        class Article(models.Model, Base, Generic[T], object, metaclass=Meta):
            pass
        """)
    inherits = [e for e in parsed.edges if e.kind == "inherits"]
    assert [(e.target_name, e.candidates) for e in inherits] == [
        ("models.Model", (("django.db.models.Model", CONF_EXACT),)),
        ("Base", (("pkg.mod.Base", CONF_EXACT),)),
        ("Generic", (("typing.Generic", CONF_EXACT),)),
    ]
    assert {_source_name(parsed, e) for e in inherits} == {"pkg.mod.Article"}
    assert all(e.line == 9 for e in inherits)


# ---- references -------------------------------------------------------------------------------


def test_annotations_reference_the_classes_they_name() -> None:
    parsed = _parse("""\
        from django.http import HttpRequest

        class Response:
            pass

        def view(request: HttpRequest, extra: "Response") -> Response:
            pass
        """)
    request = _edge(parsed, "references", "HttpRequest")
    assert request.candidates == (("django.http.HttpRequest", CONF_EXACT),)
    assert _source_name(parsed, request) == "pkg.mod.view"
    uses = [e.candidates for e in _edges(parsed, "references", "Response") if e.alias is None]
    assert uses == [(("pkg.mod.Response", CONF_EXACT),)] * 2
    # The return annotation is also view's type edge: what a call of it returns.
    returns = [e for e in parsed.edges if e.alias == TYPE_OF]
    assert [(_source_name(parsed, e), e.candidates) for e in returns] == [
        ("pkg.mod.view", (("pkg.mod.Response", CONF_EXACT),))
    ]


def test_values_that_name_known_definitions_are_references_and_locals_are_not() -> None:
    parsed = _parse("""\
        from django.db import models
        import signals

        TIMEOUT = 30

        class Book:
            pass

        def handler(sender):
            pass

        def run(value):
            local = value
            if isinstance(local, Book):
                signals.post_save.connect(handler, timeout=TIMEOUT)
            return models.CASCADE, local
        """)
    assert _edge(parsed, "references", "Book").candidates == (("pkg.mod.Book", CONF_EXACT),)
    assert _edge(parsed, "references", "handler").candidates == (("pkg.mod.handler", CONF_EXACT),)
    assert _edge(parsed, "references", "TIMEOUT").candidates == (("pkg.mod.TIMEOUT", CONF_EXACT),)
    assert _edge(parsed, "references", "models.CASCADE").candidates == (("django.db.models.CASCADE", CONF_EXACT),)
    referenced = {e.target_name for e in parsed.edges if e.kind == "references"}
    assert referenced == {"Book", "handler", "TIMEOUT", "models.CASCADE"}


def test_bare_decorators_are_references_but_builtin_ones_are_not() -> None:
    parsed = _parse("""\
        from django.contrib.auth.decorators import login_required

        class Page:
            @property
            def title(self):
                pass

            @title.setter
            def title(self, value):
                pass

        @login_required
        def dashboard(request):
            pass
        """)
    login = _edge(parsed, "references", "login_required")
    assert login.candidates == (("django.contrib.auth.decorators.login_required", CONF_EXACT),)
    assert _source_name(parsed, login) == "pkg.mod.dashboard"
    assert _edge(parsed, "references", "title").candidates == (("pkg.mod.Page.title", CONF_EXACT),)
    assert not _edges(parsed, "references", "property")


def test_self_attributes_are_references_only_when_the_class_defines_them() -> None:
    parsed = _parse("""\
        class Form:
            prefix = "f"

            def clean(self):
                return self.prefix, self.cleaned_data, self.clean
        """)
    referenced = {(e.target_name, e.candidates) for e in parsed.edges if e.kind == "references"}
    assert referenced == {
        ("self.prefix", (("pkg.mod.Form.prefix", CONF_EXACT),)),
        ("self.clean", (("pkg.mod.Form.clean", CONF_EXACT),)),
    }


def test_a_comprehension_in_a_class_body_sees_class_names_only_in_its_first_iterable() -> None:
    parsed = _parse("""\
        class Status:
            CHOICES = ["a", "b"]
            pairs = [(c, c) for c in CHOICES]
        """)
    assert _edge(parsed, "references", "CHOICES").candidates == (("pkg.mod.Status.CHOICES", CONF_EXACT),)


# ---- robustness -------------------------------------------------------------------------------


def test_a_file_with_syntax_errors_still_yields_its_symbols() -> None:
    parsed = _parse("""\
        import os

        def broken(:
            pass

        class Fine:
            def method(self):
                return os.getcwd()
        """)
    assert parsed.has_errors
    names = {s.qualified_name for s in parsed.symbols}
    assert {"pkg.mod.Fine", "pkg.mod.Fine.method"} <= names
    assert _edge(parsed, "calls", "os.getcwd").candidates == (("os.getcwd", CONF_EXACT),)


def test_deeply_nested_code_does_not_crash() -> None:
    parens = "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    calls = "y = " + "".join(f"f{i}(" for i in range(3000)) + ")" * 3000 + "\n"  # every call reached
    ifs = "".join("    " * i + f"if c{i}:\n" for i in range(2000)) + "    " * 2000 + "pass\n"
    defs = "".join("    " * i + f"def f{i}():\n" for i in range(300)) + "    " * 300 + "f0()\n"
    unclosed = "z = " + "[" * 5000 + "\n"
    for source in (parens, calls, ifs, defs, unclosed):
        parsed = parse(source.encode(), "pkg/deep.py", "pkg.deep", "python")
        assert parsed.symbols[0].kind == "module"
    parsed = parse(calls.encode(), "p.py", "p", "python")
    assert sorted(e.target_name for e in parsed.edges if e.kind == "calls") == sorted(f"f{i}" for i in range(3000))


def test_arbitrary_bytes_do_not_crash() -> None:
    source = bytes(range(1, 128)) * 50 + "é ∑ \U0001f600".encode()
    parsed = parse(source, "pkg/noise.py", "pkg.noise", "python")
    assert parsed.has_errors and parsed.symbols[0].qualified_name == "pkg.noise"


def test_a_test_s_parameter_named_after_a_fixture_in_the_file_has_the_type_the_fixture_gives() -> None:
    parsed = _parse(
        """\
        import pytest
        from pkg.models import App, Client

        @pytest.fixture
        def app():
            return App()

        @pytest.fixture(scope="module")
        def client(app) -> Client:
            app.prepare()
            return app.test_client()

        @pytest.fixture
        def runner():
            made = App()
            yield made

        def test_open(client, app, runner):
            client.open("/")
            app.test_cli_runner()
            runner.invoke()

        def helper(app):
            app.run()
        """,
        path="tests/test_app.py",
        module="tests.test_app",
    )
    assert _edge(parsed, "calls", "client.open").candidates == (("pkg.models.Client.open", CONF_SCOPED),)
    assert _edge(parsed, "calls", "app.test_cli_runner").candidates == (
        ("pkg.models.App.test_cli_runner", CONF_SCOPED),
    )
    # A fixture's own parameters are fixtures too.
    assert _edge(parsed, "calls", "app.prepare").candidates == (("pkg.models.App.prepare", CONF_SCOPED),)
    # A fixture's `yield` gives; a function that is no test takes no fixtures.
    assert _edge(parsed, "calls", "runner.invoke").candidates == (("pkg.models.App.invoke", CONF_SCOPED),)
    assert _edge(parsed, "calls", "app.run").candidates == ()


def test_a_generic_class_made_with_type_arguments_is_a_call_of_the_class() -> None:
    parsed = _parse("""\
        from .config import ConfigAttribute

        class App:
            testing = ConfigAttribute[bool]("TESTING")

        def run(handlers):
            handlers[0]()
        """)
    assert _edge(parsed, "calls", "ConfigAttribute").candidates == (("pkg.config.ConfigAttribute", CONF_EXACT),)
    assert _edge(parsed, "calls", "handlers[]").candidates == ()


def test_a_lowercase_generic_class_subscripted_with_types_is_a_call_of_the_class() -> None:
    parsed = _parse("""\
        from .datastructures import header_property, Box

        class Response:
            content_type = header_property[str]("Content-Type")
            length = header_property[int | None]("Content-Length")

        def run(handlers, key, make):
            handlers[key]()
            make[0]()
            box = Box[str]()
            box.open()
        """)
    assert [e.candidates for e in _edges(parsed, "calls", "header_property")] == [
        (("pkg.datastructures.header_property", CONF_EXACT),),
        (("pkg.datastructures.header_property", CONF_EXACT),),
    ]
    assert _edge(parsed, "calls", "handlers[]").candidates == ()
    assert _edge(parsed, "calls", "make[]").candidates == ()
    assert _edge(parsed, "calls", "box.open").candidates == (("pkg.datastructures.Box.open", CONF_SCOPED),)


def test_container_and_holder_methods_give_back_what_they_hold() -> None:
    parsed = _parse("""\
        import weakref
        from contextvars import ContextVar
        from queue import Queue
        from .ctx import AppContext, Blueprint, Job

        class App:
            def __init__(self) -> None:
                self.blueprints: dict[str, Blueprint] = {}
                self.stack: list[AppContext] = []
                self.owner: weakref.ref[Job] = weakref.ref(Job())

            def run(self, name: str, jobs: Queue[Job], var: ContextVar[AppContext]) -> None:
                self.blueprints.get(name).register()
                self.stack.pop().push()
                jobs.get().start()
                ctx = var.get()
                ctx.pop()
                self.owner().cancel()
                self.blueprints.copy().clear()
                names: list[str] = []
                names.pop().strip()
        """)
    assert _edge(parsed, "calls", "self.blueprints.get().register").candidates == (
        ("pkg.ctx.Blueprint.register", CONF_SCOPED),
    )
    assert _edge(parsed, "calls", "self.stack.pop().push").candidates == (("pkg.ctx.AppContext.push", CONF_SCOPED),)
    assert _edge(parsed, "calls", "jobs.get().start").candidates == (("pkg.ctx.Job.start", CONF_SCOPED),)
    assert _edge(parsed, "calls", "ctx.pop").candidates == (("pkg.ctx.AppContext.pop", CONF_SCOPED),)
    assert _edge(parsed, "calls", "self.owner().cancel").candidates == (("pkg.ctx.Job.cancel", CONF_SCOPED),)
    # `copy()` gives a container, and a builtin's item has no method here.
    assert _edge(parsed, "calls", "self.blueprints.copy().clear").candidates == ()
    assert _edge(parsed, "calls", "names.pop().strip").candidates == ()


def test_names_unpacked_from_a_typed_tuple_are_its_parts() -> None:
    parsed = _parse("""\
        from typing import Tuple
        from .ctx import Request, Response, Rule

        def split() -> tuple[Request, Response]:
            ...

        def pairs() -> list[Tuple[Rule, str]]:
            ...

        def run(found: dict[str, tuple[Rule, Request]]) -> None:
            request, response = split()
            request.close()
            response.send()
            for rule, name in pairs():
                rule.match()
                name.strip()
            for key, (rule2, req) in found.items():
                req.close()
            first, *rest = split()
            first.close()
            pair = split()
            a, b = pair
            b.send()
        """)
    assert _edge(parsed, "calls", "request.close").candidates == (("pkg.ctx.Request.close", CONF_SCOPED),)
    assert _edge(parsed, "calls", "response.send").candidates == (("pkg.ctx.Response.send", CONF_SCOPED),)
    assert _edge(parsed, "calls", "rule.match").candidates == (("pkg.ctx.Rule.match", CONF_SCOPED),)
    assert _edge(parsed, "calls", "name.strip").candidates == ()
    assert _edge(parsed, "calls", "req.close").candidates == (("pkg.ctx.Request.close", CONF_SCOPED),)
    # A starred target breaks positions: nothing is said.
    assert _edge(parsed, "calls", "first.close").candidates == ()
    assert _edge(parsed, "calls", "b.send").candidates == (("pkg.ctx.Response.send", CONF_SCOPED),)
    # A tuple has no return type edge (no class to name).
    assert [e.target_name for e in parsed.edges if e.alias == TYPE_OF] == []


def test_a_property_types_what_it_returns_and_its_read_is_a_use_of_it() -> None:
    parsed = _parse("""\
        from .urls import URL

        class Request:
            @property
            def url(self) -> URL:
                return URL()

            @url.setter
            def url(self, value):
                pass

            def host(self):
                self.url.normalize()
                return self.url.host
        """)
    assert _edge(parsed, "calls", "self.url.normalize").candidates == (("pkg.urls.URL.normalize", CONF_SCOPED),)
    # The property is read both where its value's method is called and where its attribute is.
    reads = [(e.line, e.candidates) for e in _edges(parsed, "references", "self.url")]
    assert reads == [(13, (("pkg.mod.Request.url", CONF_EXACT),)), (14, (("pkg.mod.Request.url", CONF_EXACT),))]
    # `self.url.host` is `host` of what the getter returns: the resolver follows its type edge.
    assert _edge(parsed, "references", "self.url.host").candidates == (("pkg.mod.Request.url.host", CONF_SCOPED),)


def test_loop_variables_are_items_of_typed_containers() -> None:
    parsed = _parse("""\
        from typing import Iterable
        from .tags import Tag

        class Serializer:
            order: list[Tag]

            def __init__(self) -> None:
                self.tags: dict[str, Tag] = {}

            def run(self, extra: Iterable[Tag], pairs: tuple[Tag, ...], named: list[Tag]):
                for tag in self.order:
                    tag.check()
                for key, value in self.tags.items():
                    value.value()
                for each in self.tags.values():
                    each.other()
                for item in extra:
                    item.third()
                for i, pair in enumerate(pairs):
                    pair.fourth()
                [x.fifth() for x in named]
                for k in self.tags:
                    k.upper()
                self.order.append(1)
        """)
    for call in ("tag.check", "value.value", "each.other", "item.third", "pair.fourth", "x.fifth"):
        assert _edge(parsed, "calls", call).candidates == ((f"pkg.tags.Tag.{call.partition('.')[2]}", CONF_SCOPED),)
    # A dict's keys are not its values, and a container is no receiver of its items' methods.
    assert _edge(parsed, "calls", "k.upper").candidates == ()
    assert _edge(parsed, "calls", "self.order.append").candidates == ()
    # Nor does a container annotation type the attribute for other files.
    assert not [e for e in parsed.edges if e.alias is not None and "[]" in str(e.candidates)]


def test_a_shadowed_enumerate_types_no_loop_variable() -> None:
    parsed = _parse("""\
        from .tags import Tag, enumerate

        def run(pairs: list[Tag]):
            for i, pair in enumerate(pairs):
                pair.fourth()
        """)
    assert _edge(parsed, "calls", "pair.fourth").candidates == ()


def test_a_declared_type_wins_over_assigned_values_and_generic_classes_type_their_instances() -> None:
    parsed = _parse("""\
        import typing as t
        from .ds import Headers, MultiDict

        class Response:
            headers: Headers

            def __init__(self, headers: t.Mapping[str, str] | None = None) -> None:
                self.headers = headers if headers is not None else Headers()

            @property
            def args(self) -> MultiDict[str, str]:
                return MultiDict()

            def kinds(self) -> t.Type[Headers]:
                return Headers

            def go(self):
                self.headers.get("a")
                self.args.get("b")
                self.kinds().get("c")

        def fget(response: Response):
            return response.headers.get("x")
        """)
    # The class body's annotation, not the untyped parameter `__init__` assigns, says what `headers` is.
    assert _edge(parsed, "calls", "self.headers.get").candidates == (("pkg.ds.Headers.get", CONF_SCOPED),)
    assert _edge(parsed, "calls", "self.args.get").candidates == (("pkg.ds.MultiDict.get", CONF_SCOPED),)
    # `Type[Headers]` is the class itself, no instance: nothing is said of its `get`.
    assert _edge(parsed, "calls", "self.kinds().get").candidates == ()
    # Elsewhere, the attribute's own type edge carries the declaration (the resolver follows it).
    typed = [e for e in parsed.edges if e.alias == TYPE_OF and _source_name(parsed, e) == "pkg.mod.Response.headers"]
    assert [(e.line, e.candidates) for e in typed] == [(5, (("pkg.ds.Headers", CONF_EXACT),))]
    assert _edge(parsed, "references", "response.headers").candidates == (("pkg.mod.Response.headers", CONF_SCOPED),)


def test_isinstance_tells_a_local_its_class_in_the_block_it_guards() -> None:
    parsed = _parse("""\
        from .ds import Headers, MultiDict

        def update(arg, other=None):
            if isinstance(arg, Headers):
                arg.keys()
            elif other is not None and isinstance(arg, MultiDict):
                arg.lists()
            elif isinstance(arg, dict):
                arg = MultiDict(arg)
                arg.rebuilt()
            else:
                arg.items()
            arg.after()
        """)
    assert _edge(parsed, "calls", "arg.keys").candidates == (("pkg.ds.Headers.keys", CONF_SCOPED),)
    assert _edge(parsed, "calls", "arg.lists").candidates == (("pkg.ds.MultiDict.lists", CONF_SCOPED),)
    # Assigned in the block, the name is no longer what isinstance() said; `else` and after the
    # statement, nothing is known of it.
    for written in ("arg.rebuilt", "arg.items", "arg.after"):
        assert _edge(parsed, "calls", written).candidates == ()


def test_a_parameter_rebound_at_the_top_of_a_body_is_what_it_was_rebound_to_after() -> None:
    parsed = _parse(
        """\
        import flask

        def test_static(app):
            app.before()
            app = flask.Flask(__name__)
            app.route("/")
            if app:
                app.nested()
        """,
        path="tests/test_app.py",
        module="test_app",
    )
    # Before, `app` is the fixture's or the Flask (nothing is said); after, it is the Flask.
    assert _edge(parsed, "calls", "app.before").candidates == ()
    assert _edge(parsed, "calls", "app.route").candidates == (("flask.Flask.route", CONF_SCOPED),)
    assert _edge(parsed, "calls", "app.nested").candidates == (("flask.Flask.nested", CONF_SCOPED),)


def test_an_attribute_read_on_what_a_call_makes_is_a_use_of_that_class_s_member() -> None:
    parsed = _parse("""\
        class A:
            @property
            def f(self) -> int:
                return 1

        def make() -> A:
            return A()

        def test():
            assert A(11).f == 121
            print(make().f)
            print(dict(a=1).items)
        """)
    assert _edge(parsed, "references", "A().f").candidates == (("pkg.mod.A.f", CONF_SCOPED),)
    assert _edge(parsed, "references", "make().f").candidates == (("pkg.mod.A.f", CONF_SCOPED),)
    assert _edges(parsed, "references", "dict().items") == []


def test_a_failed_isinstance_test_leaves_a_union_parameter_its_other_member() -> None:
    parsed = _parse("""\
        import typing as t
        from .ds import Headers, MultiDict

        def update(arg: Headers | list[tuple[str, str]], other: t.Union[str, MultiDict, None] = None):
            if isinstance(arg, list):
                arg.append(1)
            else:
                arg.keys()
            if isinstance(other, str):
                pass
            elif other is not None:
                other.lists()

        def loose(arg: Headers | MultiDict | str, flag=False):
            if isinstance(arg, str):
                pass
            else:
                arg.unknown()
            if isinstance(arg, (str, MultiDict)):
                pass
            elif flag:
                arg.copy()
            if isinstance(arg, str) and flag:
                pass
            else:
                arg.either()
        """)
    assert _edge(parsed, "calls", "arg.keys").candidates == (("pkg.ds.Headers.keys", CONF_SCOPED),)
    assert _edge(parsed, "calls", "other.lists").candidates == (("pkg.ds.MultiDict.lists", CONF_SCOPED),)
    # Two members are left: nothing is said; a tuple of classes rules each out.
    assert _edge(parsed, "calls", "arg.unknown").candidates == ()
    assert _edge(parsed, "calls", "arg.copy").candidates == (("pkg.ds.Headers.copy", CONF_SCOPED),)
    # A test among `and`s that failed rules nothing out.
    assert _edge(parsed, "calls", "arg.either").candidates == ()


def test_a_guard_or_branches_that_all_rebind_tell_a_parameter_its_class_after_the_if() -> None:
    parsed = _parse("""\
        from .ds import Headers, MultiDict

        def guarded(value):
            value.before()
            if not isinstance(value, Headers):
                raise TypeError(value)
            value.keys()

        def converted(value: str | bytes | MultiDict):
            if isinstance(value, str):
                value = MultiDict(value)
            elif isinstance(value, bytes):
                value = MultiDict(value.decode())
            value.lists()

        def partly(value: str | MultiDict):
            if isinstance(value, str):
                value = value.strip()
            value.partial()

        def coerced(url, other):
            other = fetch(other)
            if not isinstance(url, MultiDict):
                url = MultiDict(url)
            if not isinstance(other, Headers):
                other = Headers(other)
            url.merged()
            other.copy()

        def returned(value: str | Headers):
            if isinstance(value, str):
                return value
            value.items()
            value = make()
            value.later()
        """)
    assert _edge(parsed, "calls", "value.before").candidates == ()
    assert _edge(parsed, "calls", "value.keys").candidates == (("pkg.ds.Headers.keys", CONF_SCOPED),)
    assert _edge(parsed, "calls", "value.lists").candidates == (("pkg.ds.MultiDict.lists", CONF_SCOPED),)
    assert _edge(parsed, "calls", "value.items").candidates == (("pkg.ds.Headers.items", CONF_SCOPED),)
    assert _edge(parsed, "calls", "url.merged").candidates == (("pkg.ds.MultiDict.merged", CONF_SCOPED),)
    assert _edge(parsed, "calls", "other.copy").candidates == (("pkg.ds.Headers.copy", CONF_SCOPED),)
    # A branch leaves it a str (rebound to what no class says), and an assignment undoes what the test told.
    for unknown in ("value.partial", "value.later"):
        assert _edge(parsed, "calls", unknown).candidates == ()


def test_narrowing_after_an_if_reaches_nested_blocks_and_a_passed_test_keeps_the_member_s_arguments() -> None:
    parsed = _parse("""\
        from .auth import Authorization, WWWAuthenticate

        def send(self, auth: Authorization | tuple[str, str] | None = None):
            if auth is not None:
                if isinstance(auth, tuple):
                    auth = Authorization("basic", auth)
                auth.to_header()

        def many(value: WWWAuthenticate | list[WWWAuthenticate] | None):
            if not value:
                pass
            elif isinstance(value, list):
                for item in value:
                    item.first()
            else:
                value.single()
        """)
    assert _edge(parsed, "calls", "auth.to_header").candidates == (("pkg.auth.Authorization.to_header", CONF_SCOPED),)
    assert _edge(parsed, "calls", "item.first").candidates == (("pkg.auth.WWWAuthenticate.first", CONF_SCOPED),)
    assert _edge(parsed, "calls", "value.single").candidates == (("pkg.auth.WWWAuthenticate.single", CONF_SCOPED),)


def test_an_assert_or_a_guard_on_a_local_tells_its_class_to_the_statements_after() -> None:
    parsed = _parse("""\
        from .wrappers import Request, Response

        def test_app(client):
            rv = client.get("/")
            assert isinstance(rv, Response) and rv.status_code == 200
            rv.get_data()

        def handle(environ):
            request = make(environ)
            if not isinstance(request, Request):
                return None
            request.close()
            for item in environ:
                assert isinstance(item, Response)
                item.freeze()
            item.after()
            for each in environ:
                if not isinstance(each, Request):
                    continue
                each.close()
        """)
    assert _edge(parsed, "calls", "rv.get_data").candidates == (("pkg.wrappers.Response.get_data", CONF_SCOPED),)
    assert _edge(parsed, "calls", "request.close").candidates == (("pkg.wrappers.Request.close", CONF_SCOPED),)
    assert _edge(parsed, "calls", "each.close").candidates == (("pkg.wrappers.Request.close", CONF_SCOPED),)
    assert _edge(parsed, "calls", "item.freeze").candidates == (("pkg.wrappers.Response.freeze", CONF_SCOPED),)
    # The loop's block ends where the assert told: after the loop, item is what the loop took.
    assert _edge(parsed, "calls", "item.after").candidates == ()


def test_awaiting_a_coroutine_gives_what_the_async_function_returns() -> None:
    parsed = _parse("""\
        from .models import Response

        class Client:
            async def get(self, url) -> Response:
                return Response(url)

            async def fetch(self, url):
                return await self.get(url)

        async def main(client: Client):
            response = await client.get("/")
            response.read()
            again = await client.fetch("/")
            again.close()
            waited = await response
            waited.unknown()
        """)
    assert _edge(parsed, "calls", "response.read").candidates == (("pkg.models.Response.read", CONF_SCOPED),)
    # What an async method returns is what it awaited.
    assert _edge(parsed, "calls", "again.close").candidates == (("pkg.models.Response.close", CONF_SCOPED),)
    # Awaiting a value that is no call says nothing.
    assert _edge(parsed, "calls", "waited.unknown").candidates == ()
