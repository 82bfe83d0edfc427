"""Motion saliency: maps from the codec's motion vectors or a MoSI network, rendered to overlays, maps, masks
and boxes (`run.run`). The package itself can be called: `mosi_tool.saliency(path, ...)` is `api.saliency`,
which returns the arrays the `mosi-tool saliency` command writes."""

from __future__ import annotations

import sys
import types
from typing import Any


class _CallablePackage(types.ModuleType):
    """`mosi_tool.saliency` is this package once any of its modules is imported (Python binds a subpackage
    to its parent's attribute), so the public function is the package's own `__call__`."""

    def __call__(self, path: Any, **kwargs: Any) -> Any:
        from .api import saliency

        return saliency(path, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
