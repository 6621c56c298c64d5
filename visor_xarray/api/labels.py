"""Looking things up by name within a sample.

``_only_image`` finds the one image of a type when no name is given (stack and channel
labels are looked up by :meth:`visor_xarray.schema.ImageAttrs.label_to_index`).
"""

from __future__ import annotations

from visor_xarray import layout
from visor_xarray.errors import UnknownImageError
from visor_xarray.store import VsrStore

__all__: list[str] = []


def _only_image(store: VsrStore, image_type: str) -> str:
    store._check_type(image_type)
    names = store.image_names(image_type)
    if len(names) != 1:
        raise UnknownImageError(
            layout.image_type_dir(store.path, image_type),
            f"name=None needs exactly one image of this type, found {len(names)}",
            None,
            names,
        )
    return names[0]
