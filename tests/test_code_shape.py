"""The shape of the code: no function outside the migrations is longer than 60 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("omnicart", "server", "schema", "search")
EXCLUDED = ("server/migrations",)
MAX_LINES = 60


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, int, int]]:
    """Return (qualified name, first line, line count) of every function, nested ones too."""
    found: list[tuple[str, int, int]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{node.name}"
            if not isinstance(node, ast.ClassDef):
                assert node.end_lineno is not None
                found.append((name, node.lineno, node.end_lineno - node.lineno + 1))
            found.extend(_functions(node, f"{name}."))
        else:
            found.extend(_functions(node, prefix))
    return found


def long_functions(root: Path = ROOT) -> list[str]:
    """Return ``path:line name (N lines)`` for each function over MAX_LINES lines."""
    long: list[str] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if any(path.is_relative_to(root / excluded) for excluded in EXCLUDED):
                continue
            relative = path.relative_to(root).as_posix()
            for name, line, count in _functions(ast.parse(path.read_text(), str(path))):
                if count > MAX_LINES:
                    long.append(f"{relative}:{line} {name} ({count} lines)")
    return long


def test_no_function_is_longer_than_60_lines() -> None:
    assert long_functions() == []


def _function(name: str, lines: int, indent: str = "") -> str:
    body = "".join(f"{indent}    x{i} = {i}\n" for i in range(lines - 1))
    return f"{indent}def {name}():\n{body}"


def test_a_long_function_is_named_with_its_class(tmp_path: Path) -> None:
    for package in ("server/migrations", "schema", "search"):
        (tmp_path / package).mkdir(parents=True)
    (tmp_path / "server" / "big.py").write_text(
        "class Big:\n"
        + _function("fits", MAX_LINES, "    ")
        + _function("too_long", MAX_LINES + 1, "    ")
    )
    (tmp_path / "server" / "migrations" / "old.py").write_text(_function("upgrade", 100))
    assert long_functions(tmp_path) == ["server/big.py:62 Big.too_long (61 lines)"]
