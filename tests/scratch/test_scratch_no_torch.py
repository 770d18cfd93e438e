"""``neuralab.scratch`` must work without torch: it never imports it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import neuralab.scratch

PACKAGE = Path(neuralab.scratch.__file__).parent


def test_no_source_file_imports_torch():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "torch"]
    assert not offenders, offenders


def test_importing_and_using_the_engine_loads_no_torch():
    code = ("import sys, numpy as np\n"
            "from neuralab.scratch import check_all, MLP\n"
            "MLP(3, [2], 2, rng=0).forward(np.zeros((1, 3)))\n"
            "check_all(max_checks=2)\n"
            "print('torch' in sys.modules)\n")
    src = str(PACKAGE.parents[1])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"PYTHONPATH": src}, check=True)
    assert out.stdout.strip() == "False"


def test_the_engine_imports_only_itself_and_neuralab_errors_from_neuralab():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] == "neuralab"
                          and not (n == "neuralab.errors" or n.startswith("neuralab.scratch"))]
    assert not offenders, offenders
