"""Reproducible installs: the lock files agree with pyproject.toml, ./tandem installs them again when
they change, and a Python that cannot make a virtual environment gets a clear answer."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)
REGENERATE = "./tandem lock"


def pins(lock: Path) -> dict[str, set[str]]:
    """Package → its pinned versions (a universal lock may pin two, under different markers)."""
    found: dict[str, set[str]] = {}
    for name, version in PIN.findall(lock.read_text()):
        found.setdefault(canonicalize_name(name), set()).add(version)
    return found


def disagreements(requirements: list[str], pinned: dict[str, set[str]]) -> list[str]:
    """What the lock lacks or pins outside a requirement's bounds (extras included: psycopg[binary])."""
    problems = []
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        versions = pinned.get(name)
        if not versions:
            problems.append(f"{requirement} is not in the lock")
        elif not any(requirement.specifier.contains(version, prereleases=True) for version in versions):
            problems.append(f"{requirement}: the lock pins {', '.join(sorted(versions))}")
        if requirement.extras == {"binary"} and name == "psycopg" and "psycopg-binary" not in pinned:
            problems.append("psycopg[binary]: psycopg-binary is not in the lock")
    return problems


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_the_lock_files_agree_with_pyproject():
    runtime, test = project()["dependencies"], project()["optional-dependencies"]["test"]
    locked, test_locked = pins(ROOT / "requirements.lock"), pins(ROOT / "requirements-test.lock")
    problems = [f"requirements.lock: {p}" for p in disagreements(runtime, locked)]
    problems += [f"requirements-test.lock: {p}" for p in disagreements(runtime + test, test_locked)]
    problems += [f"{name}: requirements.lock pins {sorted(versions)}, requirements-test.lock "
                 f"{sorted(test_locked.get(name, set()))}" for name, versions in locked.items()
                 if test_locked.get(name) != versions]
    assert not problems, "\n".join(problems) + f"\nRegenerate both lock files with: {REGENERATE}"


def test_every_pin_has_hashes():
    for lock in ("requirements.lock", "requirements-test.lock"):
        text = (ROOT / lock).read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        assert all("--hash=sha256:" in block for block in blocks if PIN.match(block)), lock


def test_the_check_notices_a_missing_or_outdated_pin():
    pinned = {"slack-bolt": {"1.30.0"}, "psycopg": {"3.2.1"}}
    assert disagreements(["slack-bolt>=1.21,<2"], pinned) == []
    assert disagreements(["slack-bolt>=2"], pinned) == ["slack-bolt>=2: the lock pins 1.30.0"]
    assert disagreements(["playwright>=1.40"], pinned) == ["playwright>=1.40 is not in the lock"]
    assert disagreements(["psycopg[binary]>=3.2"], pinned) == ["psycopg[binary]: psycopg-binary is not in the lock"]


def test_upper_bounds_where_a_major_version_would_break():
    bounded = {canonicalize_name(Requirement(text).name): Requirement(text).specifier
               for text in project()["dependencies"]}
    for name in ("sqlalchemy", "sqlmodel", "slack-sdk", "slack-bolt", "apscheduler"):
        assert any(spec.operator == "<" for spec in bounded[name]), name


def load_bootstrap(venv: Path, monkeypatch):
    """The ./tandem script as a module, with its virtualenv at `venv`."""
    monkeypatch.setenv("TANDEM_VENV", str(venv))
    loader = importlib.machinery.SourceFileLoader("tandem_bootstrap", str(ROOT / "tandem"))
    spec = importlib.util.spec_from_loader("tandem_bootstrap", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def test_a_changed_lock_is_installed_again(tmp_path, monkeypatch):
    venv = tmp_path / "venv"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    python.parent.mkdir(parents=True)
    calls = tmp_path / "calls"
    python.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\n")  # records what ./tandem asks pip to do
    python.chmod(0o755)
    bootstrap = load_bootstrap(venv, monkeypatch)
    lock, test_lock = tmp_path / "requirements.lock", tmp_path / "requirements-test.lock"
    lock.write_text("a==1\n")
    test_lock.write_text("a==1\nb==2\n")
    monkeypatch.setattr(bootstrap, "LOCK", lock)
    monkeypatch.setattr(bootstrap, "TEST_LOCK", test_lock)

    def installs() -> list[str]:
        return calls.read_text().splitlines() if calls.exists() else []

    bootstrap.ensure_venv(with_tests=True)
    assert len(installs()) == 1 and "--require-hashes" in installs()[0] and str(test_lock) in installs()[0]
    bootstrap.ensure_venv(with_tests=True)
    bootstrap.ensure_venv(with_tests=False)  # the test lock holds the runtime lock's pins
    assert len(installs()) == 1
    lock.write_text("a==1.0.1\n")  # a changed pin
    bootstrap.ensure_venv(with_tests=False)
    assert len(installs()) == 2 and str(lock) in installs()[1]
    test_lock.write_text("a==1.0.1\nb==2\n")
    bootstrap.ensure_venv(with_tests=True)
    assert len(installs()) == 3


@pytest.mark.skipif(os.name == "nt", reason="the shadowing below is a POSIX path trick")
def test_a_python_without_ensurepip_is_told_which_package_to_install(tmp_path):
    shadow = tmp_path / "shadow" / "ensurepip"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('No module named ensurepip (as on Debian)')\n")
    env = {**os.environ, "PYTHONPATH": str(shadow.parent), "TANDEM_VENV": str(tmp_path / "new-venv")}
    result = subprocess.run([sys.executable, str(ROOT / "tandem"), "--help"], env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"apt install python{sys.version_info[0]}.{sys.version_info[1]}-venv" in result.stderr
    assert not (tmp_path / "new-venv").exists()
