"""The layers hold: omnicart > schema > server > search, no import cycle, no hidden imports.

Three rules, each checked on the project and shown to fail on a planted violation:

* the import-linter contracts in ``pyproject.toml`` (``[tool.importlinter]``): each layer
  imports only those below it, ``schema`` never imports SQLAlchemy, ``server`` never
  Strawberry or GraphQL, ``search`` none of them;
* no module imports another that imports it back, counting that importing ``a.b.c`` first
  runs ``a/__init__`` and ``a/b/__init__`` (so a package ``__init__`` that re-exports its
  modules while one of them is reached from a module that package imports is a cycle too);
* no import inside a function (outside the migrations), where the rules above cannot see it;
  nor one made at run time (``importlib``, ``__import__``); the one way a module names
  another without importing it is ``strawberry.lazy("a.module")`` with the module's path
  written out, and only where importing it would be a cycle.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import grimp
import pytest
from importlinter.api import read_configuration  # also configures import-linter's readers
from importlinter.application.use_cases import SUCCESS, lint_imports
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract
from importlinter.domain.contract import Contract

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
PACKAGES = ("omnicart", "schema", "server", "search")
EXCLUDED = ("server/migrations",)
CONTRACT_TYPES: Mapping[str, type[Contract]] = {
    "layers": LayersContract,
    "forbidden": ForbiddenContract,
}
LAYERS = "omnicart > schema > server > search"
NO_SQLALCHEMY_IN_SCHEMA = "schema never imports SQLAlchemy (it names sessions as server.db.Session)"
NO_GRAPHQL_IN_SERVER = "server never imports Strawberry or GraphQL"
SEARCH_ALONE = "search knows neither the domain, GraphQL nor the database"


# ---------------------------------------------------------------------------------------------
# The rules, as functions of a graph or a source tree


@cache
def _project_graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)


def project_graph() -> grimp.ImportGraph:
    """Return a fresh copy of the project's import graph (external packages as leaves)."""
    return copy.deepcopy(_project_graph())


def broken_contracts(graph: grimp.ImportGraph) -> list[str]:
    """Return the names of the ``pyproject.toml`` import contracts that ``graph`` breaks."""
    options = read_configuration(str(PYPROJECT))
    broken = []
    for contract_options in options["contracts_options"]:
        contract = CONTRACT_TYPES[contract_options["type"]](
            name=contract_options["name"],
            session_options=options["session_options"],
            contract_options=contract_options,
        )
        if not contract.check(copy.deepcopy(graph), verbose=False).kept:
            broken.append(contract.name)
    return broken


def _import_edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    """Return each module's imports, each with the packages Python runs before it."""
    internal = {m for m in graph.modules if m.split(".")[0] in PACKAGES}
    edges: dict[str, set[str]] = {}
    for importer in internal:
        own = set(_parents(importer))
        targets = graph.find_modules_directly_imported_by(importer) & internal
        implied = {p for t in targets for p in _parents(t) if p not in own and p != importer}
        edges[importer] = (targets | implied) - {importer}
    return edges


def _parents(module: str) -> Iterable[str]:
    parts = module.split(".")
    return (".".join(parts[:i]) for i in range(1, len(parts)))


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Return one shortest import cycle per tangle of modules, each from its first module.

    A cycle ``[a, b]`` reads "a imports b, which imports a"; an import of ``pkg.mod`` counts
    as an import of ``pkg`` too, unless the importer is inside ``pkg``.
    """
    edges = _import_edges(graph)
    cycles = []
    for tangle in _strongly_connected(edges):
        start = min(tangle)
        cycles.append(_shortest_path_back(edges, start, tangle))
    return sorted(cycles)


def _strongly_connected(edges: Mapping[str, set[str]]) -> list[set[str]]:
    """Return the groups of two or more modules that reach each other (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            successor = next(successors, None)
            if successor is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    group = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.add(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        groups.append(group)
            elif successor not in index:
                index[successor] = low[successor] = len(index)
                stack.append(successor)
                on_stack.add(successor)
                work.append((successor, iter(sorted(edges[successor]))))
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
    return groups


def _shortest_path_back(edges: Mapping[str, set[str]], start: str, within: set[str]) -> list[str]:
    """Return the shortest ``[start, …]`` whose last module imports ``start`` (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(edges[node] & within):
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return path[::-1]
                if successor not in came_from:
                    came_from[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError(f"{start} is in no cycle")


def function_imports(root: Path = ROOT) -> list[str]:
    """Return ``path:line import …`` for each import inside a function of the packages."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if any(path.is_relative_to(root / excluded) for excluded in EXCLUDED):
                continue
            relative = path.relative_to(root).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
            for node in _imports_in_functions(tree):
                found.append(f"{relative}:{node.lineno} {ast.unparse(node)}")
    return found


def _imports_in_functions(tree: ast.AST, inside: bool = False) -> Iterable[ast.stmt]:
    for node in ast.iter_child_nodes(tree):
        if inside and isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        nested = inside or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        yield from _imports_in_functions(node, nested)


def _sources(root: Path) -> Iterable[tuple[str, str, ast.AST]]:
    """Yield (module name, relative path, syntax tree) of each module of the packages."""
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if any(path.is_relative_to(root / excluded) for excluded in EXCLUDED):
                continue
            relative = path.relative_to(root)
            parts = relative.with_suffix("").parts
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            yield module, relative.as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def runtime_imports(root: Path = ROOT) -> list[str]:
    """Return ``path:line`` and the code of each import made at run time (importlib, __import__)."""
    found = []
    for _, relative, tree in _sources(root):
        for node in ast.walk(tree):
            hidden = (
                isinstance(node, ast.Import) and any(a.name == "importlib" for a in node.names)
            ) or (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("importlib"))
            hidden = hidden or (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "__import__"
            )
            if hidden:
                found.append(f"{relative}:{node.lineno} {ast.unparse(node)}")  # type: ignore[attr-defined]
    return found


def lazy_references(root: Path = ROOT) -> list[tuple[str, str]]:
    """Return (module, the module it names) for each ``strawberry.lazy(...)`` of the packages.

    A name that is not a string written out is returned as ``?`` and the code.
    """
    found = []
    for module, _, tree in _sources(root):
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "lazy"
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "strawberry"
            ):
                continue
            (argument,) = node.args
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                found.append((module, argument.value))
            else:
                found.append((module, f"? {ast.unparse(node)}"))
    return sorted(found)


# ---------------------------------------------------------------------------------------------
# The project keeps them


def test_import_linter_keeps_every_contract(capsys: pytest.CaptureFixture[str]) -> None:
    # What `lint-imports` runs; it prints each broken import chain when one breaks.
    result = lint_imports(str(PYPROJECT), cache_dir=None, no_logo=True, is_debug_mode=True)
    report = capsys.readouterr().out
    print(report)  # shown with a failure: the chains of imports that break a contract
    assert [line for line in report.splitlines() if line.endswith(("KEPT", "BROKEN"))] == [
        f"{LAYERS} KEPT",
        f"{NO_SQLALCHEMY_IN_SCHEMA} KEPT",
        f"{NO_GRAPHQL_IN_SERVER} KEPT",
        f"{SEARCH_ALONE} KEPT",
    ]
    assert result == SUCCESS


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert import_cycles(project_graph()) == []


def test_no_import_hides_inside_a_function() -> None:
    assert function_imports() == []


def test_no_module_is_imported_at_run_time() -> None:
    assert runtime_imports() == []


def test_a_lazy_type_names_a_module_by_its_path_only_where_importing_it_is_a_cycle() -> None:
    graph = project_graph()
    lazy = lazy_references()
    # Order.customer: Customer reaches its purchases, which are orders.
    assert lazy == [("schema.orders.types", "schema.carts.types")]
    for module, named in lazy:
        assert named in graph.modules, f"{module} names {named}, which is no module"
        chain = graph.find_shortest_chain(importer=named, imported=module)
        assert chain is not None, f"{module} could import {named}: no cycle to avoid"


# ---------------------------------------------------------------------------------------------
# Each rule fails on a planted violation


def test_sqlalchemy_imported_by_schema_breaks_its_contract() -> None:
    graph = project_graph()
    graph.add_import(importer="schema.catalog", imported="sqlalchemy")
    assert broken_contracts(graph) == [NO_SQLALCHEMY_IN_SCHEMA]


def test_schema_imported_by_server_breaks_the_layers() -> None:
    graph = project_graph()
    graph.add_import(importer="server.catalog", imported="schema.catalog")
    # schema imports Strawberry, so server now does too, through it.
    assert broken_contracts(graph) == [LAYERS, NO_GRAPHQL_IN_SERVER]


def test_strawberry_imported_by_server_breaks_its_contract() -> None:
    graph = project_graph()
    graph.add_import(importer="server.carts.service", imported="strawberry")
    assert broken_contracts(graph) == [NO_GRAPHQL_IN_SERVER]


def test_the_app_imported_by_search_breaks_the_layers_and_its_contract() -> None:
    graph = project_graph()
    graph.add_import(importer="search.query", imported="omnicart.app")
    assert broken_contracts(graph) == [LAYERS, NO_GRAPHQL_IN_SERVER, SEARCH_ALONE]


def test_a_module_importing_its_importer_is_a_cycle() -> None:
    graph = project_graph()
    graph.add_import(importer="schema.ids", imported="schema.catalog")
    assert import_cycles(graph) == [["schema.catalog", "schema.ids"]]


def _graph(imports: Mapping[str, Iterable[str]]) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for importer, imported in imports.items():
        graph.add_module(importer)
        for module in imported:
            graph.add_import(importer=importer, imported=module)
    return graph


def test_a_package_re_exporting_a_module_that_imports_the_package_is_a_cycle() -> None:
    graph = _graph({"server": [], "server.carts": ["server.carts.views"], "server.carts.views": []})
    graph.add_import(importer="server.carts.views", imported="server.carts")
    assert import_cycles(graph) == [["server.carts", "server.carts.views"]]


def test_reaching_a_package_that_re_exports_the_importer_is_a_cycle() -> None:
    # schema.carts.types imports schema.orders.fulfilment, which first runs schema/orders/
    # __init__; that re-exports checkout, which imports the cart types back.
    graph = _graph(
        {
            "schema": [],
            "schema.carts": [],
            "schema.carts.types": ["schema.orders.fulfilment"],
            "schema.orders": ["schema.orders.checkout"],
            "schema.orders.fulfilment": [],
            "schema.orders.checkout": ["schema.carts.types"],
        }
    )
    assert import_cycles(graph) == [
        ["schema.carts.types", "schema.orders", "schema.orders.checkout"]
    ]


def test_siblings_importing_each_other_through_their_modules_is_no_cycle() -> None:
    graph = _graph(
        {
            "schema": [],
            "schema.carts": [],
            "schema.carts.types": ["schema.orders.fulfilment"],
            "schema.orders": [],
            "schema.orders.fulfilment": [],
            "schema.orders.checkout": ["schema.carts.types"],
        }
    )
    assert import_cycles(graph) == []


def test_imports_at_run_time_and_lazy_names_not_written_out_are_found(tmp_path: Path) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir(parents=True)
    (tmp_path / "schema" / "hidden.py").write_text(
        "import importlib\n"
        "import strawberry\n"
        "CLUB = 'schema.club'\n"
        "Later = strawberry.lazy(CLUB)\n"
        "Named = strawberry.lazy('schema.club')\n"
        "def club():\n"
        "    return importlib.import_module(CLUB), __import__('json')\n"
    )
    assert runtime_imports(tmp_path) == [
        "schema/hidden.py:1 import importlib",
        "schema/hidden.py:7 __import__('json')",
    ]
    assert lazy_references(tmp_path) == [
        ("schema.hidden", "? strawberry.lazy(CLUB)"),
        ("schema.hidden", "schema.club"),
    ]


def test_an_import_inside_a_function_is_found_and_the_migrations_are_not(tmp_path: Path) -> None:
    for package in (*PACKAGES, "server/migrations"):
        (tmp_path / package).mkdir(parents=True)
    (tmp_path / "schema" / "lazy.py").write_text(
        "from __future__ import annotations\n"
        "import typing\n"
        "if typing.TYPE_CHECKING:\n"
        "    import sqlalchemy\n"
        "class Cart:\n"
        "    async def customer(self):\n"
        "        from schema.accounts import Customer\n"
        "        return Customer\n"
        "def outer():\n"
        "    def inner():\n"
        "        import json\n"
        "    return inner\n"
    )
    (tmp_path / "server" / "migrations" / "0001.py").write_text("def upgrade():\n    import os\n")
    assert function_imports(tmp_path) == [
        "schema/lazy.py:7 from schema.accounts import Customer",
        "schema/lazy.py:11 import json",
    ]
