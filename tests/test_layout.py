"""The rooms and their arrows (README, Layout): each package imports only what its room may.

Every import of every module is read from its source (the AST, so an import inside a function
counts too). A first-party import outside the room's allow-list, or a forbidden third-party one,
fails. A planted violation shows the check can fail.
"""

from __future__ import annotations

import ast
import shutil
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

FIRST_PARTY = ("app", "stacks", "hydra_constructs", "hydra_on_aws", "hydra_functions", "devtools", "hydra_stack",
               "tests")
CDK = ("aws_cdk", "constructs", "jsii", "cdk_nag")


@dataclass(frozen=True)
class Room:
    name: str
    paths: tuple[str, ...]            # files or folders, relative to the repository
    may_import: tuple[str, ...]       # first-party module prefixes
    forbidden: tuple[str, ...] = ()   # third-party module prefixes
    exempt: tuple[str, ...] = ()      # files allowed the forbidden third-party imports


ROOMS = (
    Room("Lambda code", ("functions/hydra_functions",), ("hydra_functions",), CDK),
    Room("token library", ("hydra_on_aws/tokens",), ("hydra_on_aws.tokens",), CDK),
    Room("configuration", ("hydra_on_aws/config",), ("hydra_on_aws.config", "hydra_functions"), CDK),
    Room("trust boundary", ("hydra_on_aws/boundary",),
         ("hydra_on_aws.boundary", "hydra_on_aws.config", "hydra_on_aws.ops.aws_cli"), CDK,
         exempt=("hydra_on_aws/boundary/guard.py",)),
    Room("operator commands", ("hydra_on_aws/ops",), ("hydra_on_aws.ops", "hydra_on_aws.config", "hydra_functions"),
         CDK),
    Room("constructs", ("hydra_constructs",), ("hydra_constructs", "hydra_on_aws.config", "hydra_functions")),
    Room("stacks", ("stacks",), ("stacks", "hydra_constructs", "hydra_on_aws.config")),
    Room("app", ("app.py",), ("stacks", "hydra_on_aws.config", "hydra_on_aws.boundary.guard", "hydra_functions")),
)


def module_name(path: Path, root: Path) -> str:
    relative = path.relative_to(root).with_suffix("")
    parts = relative.parts[1:] if relative.parts[0] == "functions" else relative.parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, root: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved to absolute names."""
    package = module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.add(module)
            if node.module is None:  # from . import x: x is a module of the package
                found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def violations(root: Path) -> list[str]:
    found = []
    for room in ROOMS:
        for entry in room.paths:
            base = root / entry
            for path in sorted([base] if base.is_file() else base.rglob("*.py")):
                where = str(path.relative_to(root))
                for name in sorted(imports(path, root)):
                    if _within(name, FIRST_PARTY) and not _within(name, room.may_import):
                        found.append(f"{where} ({room.name}) imports {name}")
                    elif _within(name, room.forbidden) and where not in room.exempt:
                        found.append(f"{where} ({room.name}) imports {name}")
    return found


def test_every_room_imports_only_what_it_may():
    assert violations(ROOT) == []


def test_every_room_is_checked():
    for room in ROOMS:
        for entry in room.paths:
            assert (ROOT / entry).exists(), f"{entry} is gone: update the rooms"
    checked = {p.resolve() for room in ROOMS for entry in room.paths
               for p in ([ROOT / entry] if (ROOT / entry).is_file() else (ROOT / entry).rglob("*.py"))}
    shipped = {p.resolve() for folder in ("stacks", "hydra_constructs", "functions/hydra_functions")
               for p in (ROOT / folder).rglob("*.py")}
    assert shipped <= checked


def _copy(tmp_path: Path) -> Path:
    for entry in ("app.py", "stacks", "hydra_constructs", "hydra_on_aws", "functions"):
        source = ROOT / entry
        if source.is_file():
            shutil.copy(source, tmp_path / entry)
        else:
            shutil.copytree(source, tmp_path / entry, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_planted_violations_are_found(tmp_path):
    root = _copy(tmp_path)
    plants = {
        "hydra_constructs/bastion.py": ("from stacks.ingress import IngressStack", "imports stacks.ingress"),
        "hydra_on_aws/boundary/exposure.py": ("import app", "(trust boundary) imports app"),
        "hydra_on_aws/boundary/verify.py": ("from hydra_constructs.network import Network",
                                            "imports hydra_constructs.network"),
        "hydra_on_aws/boundary/templates.py": ("import aws_cdk", "(trust boundary) imports aws_cdk"),
        "functions/hydra_functions/dsn.py": ("from hydra_on_aws.config import settings",
                                             "(Lambda code) imports hydra_on_aws.config"),
        "functions/hydra_functions/migrations.py": ("import aws_cdk as cdk", "(Lambda code) imports aws_cdk"),
        "hydra_on_aws/ops/envrc.py": ("from ..boundary import guard", "(operator commands) imports hydra_on_aws.boundary"),
        "hydra_on_aws/tokens/validator.py": ("from hydra_on_aws.config.settings import HydraConfig",
                                             "(token library) imports hydra_on_aws.config.settings"),
    }
    for file, (line, _) in plants.items():
        path = root / file
        # Inside a function: lazy imports count too.
        path.write_text(path.read_text() + f"\n\ndef _planted():\n    {line}\n")
    found = "\n".join(violations(root))
    for file, (_, expected) in plants.items():
        assert f"{file} (" in found and expected in found, (file, found)


def test_relative_imports_are_resolved(tmp_path):
    package = tmp_path / "hydra_on_aws" / "ops"
    package.mkdir(parents=True)
    module = package / "x.py"
    module.write_text("from . import aws_cli\nfrom ..boundary.guard import install_guard\nfrom .aws_cli import run\n")
    assert imports(module, tmp_path) == {"hydra_on_aws.ops", "hydra_on_aws.ops.aws_cli",
                                         "hydra_on_aws.boundary.guard"}

