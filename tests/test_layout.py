"""The house rules of handlers/, checked on the source: each capability reads alone.

A capability's modules import only their own package, the shared modules (handlers/*.py) and,
for approvals, the one seam requests own (handlers/requests/handover.py). The shared modules
use a capability only through its package (what its __init__ exposes), never its internals.
"""

from __future__ import annotations

import ast
from pathlib import Path

HANDLERS = Path(__file__).resolve().parent.parent / "handlers"
CAPABILITIES = sorted(p.name for p in HANDLERS.iterdir() if (p / "__init__.py").exists())
SEAMS = {"approvals": {"handlers.requests.handover"}}


def imported(path: Path) -> set[str]:
    """Every handlers module a file imports, as dotted names (a package's submodules included)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = HANDLERS.parent.joinpath(*node.module.split("."))
            for alias in node.names:  # `from package import module` imports the module; else the package
                is_module = (base / f"{alias.name}.py").exists() or (base / alias.name / "__init__.py").exists()
                names.add(f"{node.module}.{alias.name}" if is_module else node.module)
    return {name for name in names if name.split(".")[0] == "handlers"}


def capability_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in CAPABILITIES else None


def test_there_are_capabilities_to_check():
    assert {"requests", "approvals", "standups", "digests"} <= set(CAPABILITIES)


def test_a_capability_imports_another_only_through_the_seam():
    crossings = []
    for capability in CAPABILITIES:
        for path in (HANDLERS / capability).rglob("*.py"):
            for module in imported(path):
                other = capability_of(module)
                if other not in (None, capability) and module not in SEAMS.get(capability, set()):
                    crossings.append(f"{path.relative_to(HANDLERS.parent)} imports {module}")
    assert not crossings, crossings


def test_requests_never_import_approvals():
    for path in (HANDLERS / "requests").rglob("*.py"):
        assert not any(capability_of(module) == "approvals" for module in imported(path)), path


def test_shared_modules_use_a_capability_only_through_its_package():
    reaching = []
    for path in HANDLERS.glob("*.py"):
        if path.name == "__init__.py":
            continue  # the composition of handlers: it registers every capability
        for module in imported(path):
            if capability_of(module) and len(module.split(".")) > 2:
                reaching.append(f"{path.relative_to(HANDLERS.parent)} imports {module}")
    assert not reaching, reaching
