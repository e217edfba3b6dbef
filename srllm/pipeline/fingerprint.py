"""Per-step fingerprints that follow the code: a step re-runs only when something it computes with changed.

A step's fingerprint covers

* its parameter sections (``Step.sections`` of :data:`srllm.config.PIPELINE`);
* the fingerprints of the steps it reads (``Step.reads``);
* the code cells of its notebook tagged ``step`` (the call that computes; prose, tables and figures
  are other cells and cannot change a number);
* the code (syntax tree, docstrings and comments left out) of every module it imports, followed through the whole package (its import closure:
  ``Step.modules`` and everything they import, at module level or inside functions, plus the
  ``__init__`` of every package on the way), and the package data files those modules name in a
  module-level ``PACKAGE_FILES`` tuple.

Imports under ``if TYPE_CHECKING:`` are left out: they never run. The closure is read from the source
text (``ast``), so nothing is imported to compute it.
"""

from __future__ import annotations

import ast
import hashlib
from pathlib import Path

import nbformat

from ..config import PIPELINE, Step, StudyConfig
from ..core.paths import project_root

PACKAGE = "srllm"
STEP_TAG = "step"  # the notebook cells that compute the step's results


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


def step_cells(step: Step) -> str:
    """The source of the notebook cells tagged ``step``: the computation, without prose or presentation."""
    notebook = nbformat.read(project_root() / "notebooks" / step.notebook, as_version=4)
    cells = [c.source for c in notebook.cells if c.cell_type == "code" and STEP_TAG in c.metadata.get("tags", [])]
    if not cells:
        raise RuntimeError(f"notebooks/{step.notebook} has no code cell tagged {STEP_TAG!r}: the step's call must be tagged")
    return "\n\x00".join(cells)


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


def code_hash(step: Step) -> str:
    """Hash of the step's computing cells and of every file of its import closure."""
    digest = hashlib.sha256(step_cells(step).encode())
    for path in import_closure(step.modules):
        digest.update(str(path.relative_to(project_root())).encode() + b"\x00" + source_key(path))
    return digest.hexdigest()[:16]


def fingerprints(config: StudyConfig) -> dict[str, str]:
    """Each step's fingerprint, in pipeline order (a step's reads come before it)."""
    result: dict[str, str] = {}
    for step in PIPELINE:
        reads = "|".join(result[name] for name in step.reads)
        blob = f"{step.name}|{reads}|{config.section_hash(*step.sections)}|{code_hash(step)}"
        result[step.name] = hashlib.sha256(blob.encode()).hexdigest()[:16]
    return result
