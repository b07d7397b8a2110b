"""Docstring examples of ``nips2015_vrnn.models`` and ``nips2015_vrnn.datasets`` run as tests.

(``cle``'s docstrings are collected by pytest directly; these two packages live in folders whose
names differ from their import names, so they are imported by their installed names here.)
"""
import doctest
import importlib
import pkgutil

import pytest

import nips2015_vrnn.datasets
import nips2015_vrnn.models


def _modules():
    names = []
    for package in (nips2015_vrnn.datasets, nips2015_vrnn.models):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            names.append(info.name)
    return names


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"
