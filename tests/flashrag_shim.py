"""A documented shim for testing against the real FlashRAG package offline.

FlashRAG's pipeline package imports ``transformers`` at import time and its ``PromptTemplate``
loads a Hugging Face tokenizer (network, model files, torch). The test set-up installs
``flashrag-dev`` without those heavy dependencies; this shim answers imports of a *missing*
top-level module with a ``MagicMock``-backed module, so FlashRAG's real pipeline classes, its
``Dataset`` and the split/merge logic of ``ConditionalPipeline.run`` run unchanged, while the
tokenizer and model (which quco never calls: the tests pass their own generator and retriever)
are mocks. Only modules that fail to import are shimmed; installed ones are used as they are.
"""

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from unittest import mock


class _MockModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = mock.MagicMock(name=f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self):
        self.roots: set[str] = set()

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _MockModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


@contextlib.contextmanager
def flashrag_imported():
    """``flashrag.pipeline`` with any missing heavy dependency mocked, for the ``with`` block only:
    yields (module, mocked names); afterwards the mocks and FlashRAG leave ``sys.modules`` again,
    so no other test sees a mocked ``transformers`` (``datasets`` inspects it when pickling)."""
    finder = _Finder()
    sys.meta_path.append(finder)  # after the real finders: installed packages win
    try:
        for _ in range(20):
            try:
                module = importlib.import_module("flashrag.pipeline")
                break
            except ModuleNotFoundError as exc:
                root = (exc.name or "").split(".")[0]
                if not root or root in finder.roots or root == "flashrag":
                    raise
                finder.roots.add(root)
                _forget(("flashrag", root))
        else:
            raise RuntimeError("FlashRAG needs more missing modules than the shim allows")
        yield module, sorted(finder.roots)
    finally:
        sys.meta_path.remove(finder)
        _forget(("flashrag", *finder.roots))


def _forget(roots) -> None:
    for name in [n for n in sys.modules if n.split(".")[0] in roots]:
        del sys.modules[name]
