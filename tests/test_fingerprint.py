"""Code fingerprints: comments and docstrings do not count, code does, and a module that cannot
be found fails loudly instead of hashing nothing."""

from __future__ import annotations

import sys

import pytest

from invnet import fingerprint
from invnet.errors import FingerprintError
from invnet.fingerprint import code_fingerprint


@pytest.fixture
def probe(tmp_path):
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for cache in (fingerprint._code, fingerprint._imports, fingerprint._module_file):
        cache.cache_clear()
    sys.modules.pop("fp_probe", None)


def _rewrite(path, text):
    path.write_text(text)
    fingerprint._code.cache_clear()
    fingerprint._imports.cache_clear()


def test_comments_and_docstrings_do_not_change_fingerprints(probe):
    mod = probe / "fp_probe.py"
    _rewrite(mod, '"""Doc."""\n\ndef f(x):\n    """Doc."""\n    return x + 1\n')
    before = code_fingerprint("fp_probe")
    _rewrite(mod, '"""Other doc."""\n# a comment\n\ndef f(x):\n    return x + 1  # same code\n')
    assert code_fingerprint("fp_probe") == before
    _rewrite(mod, "def f(x):\n    return x + 2\n")
    assert code_fingerprint("fp_probe") != before


def test_a_module_that_cannot_be_found_fails_loudly():
    with pytest.raises(FingerprintError, match="'invnet.figures.fig33'"):
        code_fingerprint("invnet.figures.fig33")
    with pytest.raises(FingerprintError, match="no_such_module"):
        code_fingerprint("no_such_module")


def test_an_import_of_a_missing_package_module_fails_loudly(probe):
    """A module that imports a module of this package that does not exist (a rename left
    behind) cannot be fingerprinted; a name imported from a module that exists is fine."""
    mod = probe / "fp_probe.py"
    _rewrite(mod, "from invnet.analysis import compare\n")
    assert code_fingerprint("fp_probe")
    _rewrite(mod, "from invnet.analysys import compare\n")
    with pytest.raises(FingerprintError, match="'invnet.analysys' \\(imported by fp_probe\\)"):
        code_fingerprint("fp_probe")


def test_the_closure_follows_package_imports():
    files = {p.name for p in fingerprint.source_files(["invnet.tables.table2"])}
    assert {"table2.py", "base.py", "render.py", "analysis.py", "atomic.py"} <= files
    assert "fig3.py" not in files and "gd.py" not in files and "solver_info.py" in files
