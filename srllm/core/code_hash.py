"""The code a computation depends on, read from the source: a module's import closure in the package and its hash.

A module's import closure is every file of the package that importing and running it can execute: its
own file, everything it imports (at module level or inside functions), followed through the whole
package, the ``__init__`` of every package on the way, and the package data files those modules name in
a module-level ``PACKAGE_FILES`` tuple. Imports under ``if TYPE_CHECKING:`` are left out: they never
run. The closure is read from the source text (``ast``), so nothing is imported to compute it.

The step fingerprints (srllm.pipeline.fingerprint) and the per-machine caches of computations that
outlive a run (the metric validation, the judge's validation) key on it, so an edit to any code that
can change a result invalidates them, and an edit to a comment or a docstring does not.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path
from typing import Any

from .paths import project_root

PACKAGE = "srllm"


def package_dir() -> Path:
    return project_root() / PACKAGE


def module_file(module: str) -> Path | None:
    """The source file of a module of the package (its ``__init__.py`` for a package); None if none."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = project_root().joinpath(*parts)
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return base.with_suffix(".py") if base.with_suffix(".py").is_file() else None


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, module: str, is_package: bool) -> tuple[set[str], set[str]]:
    """Modules imported anywhere in ``tree`` (absolute names) and the package files it declares."""
    found: set[str] = set()
    files: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)  # names that are submodules
        elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PACKAGE_FILES" for t in node.targets):
            files.update(ast.literal_eval(node.value))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found, files


def import_closure(modules: tuple[str, ...]) -> tuple[Path, ...]:
    """Every source file of the package that importing and running ``modules`` can execute, sorted."""
    seen: set[Path] = set()
    data_files: set[Path] = set()
    todo = list(modules)
    while todo:
        module = todo.pop()
        parts = module.split(".")
        # Importing a.b.c runs a/__init__, a/b/__init__ and then c.
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            path = module_file(name)
            if path is None or path in seen:
                continue
            seen.add(path)
            found, files = _imports(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py")
            todo.extend(m for m in found if m.split(".")[0] == PACKAGE)
            data_files.update(package_dir() / f for f in files)
    return tuple(sorted(seen | data_files))


def source_key(path: Path) -> bytes:
    """What of a file can change a result: a Python module's syntax tree without its docstrings (so
    comments, docstrings and formatting do not count); any other file's bytes."""
    if path.suffix != ".py":
        return path.read_bytes()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree, include_attributes=False).encode()


def add_closure(digest: Any, modules: tuple[str, ...]) -> None:
    """Feed every file of the import closure of ``modules`` (its path and ``source_key``) into ``digest``
    (a hashlib object)."""
    for path in import_closure(modules):
        digest.update(str(path.relative_to(project_root())).encode() + b"\x00" + source_key(path))


def closure_hash(modules: tuple[str, ...]) -> str:
    """Hash of the import closure of ``modules``."""
    digest = hashlib.sha256()
    add_closure(digest, modules)
    return digest.hexdigest()[:16]
