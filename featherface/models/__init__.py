"""Model zoo: building blocks, the FeatherFace network and its registry.

Names are exported lazily, so :mod:`featherface.models.shipped` (which weights ship, where they
are) imports without torch, which the networks need.
"""

from __future__ import annotations

from featherface.lazy import lazy_exports

_EXPORTS = {
    "FeatherFace": "featherface", "FeatherFaceConfig": "featherface",
    "create_model": "registry", "describe_model": "registry", "list_models": "registry", "model_config": "registry",
    "register_model": "registry",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, {k: f"{__name__}.{v}" for k, v in _EXPORTS.items()})
