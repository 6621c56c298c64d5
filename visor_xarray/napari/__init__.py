"""napari integration: view VISoR samples as lazy multiscale layers, stacks in place.

Needs the ``napari`` extra (``pip install "visor-xarray[napari]"``). The npe2 manifest
(``napari.yaml``) contributes a reader for ``.vsr`` directories and a dock widget.
"""

from visor_xarray.napari.colors import channel_colormap
from visor_xarray.napari.layers import LayerDataTuple
from visor_xarray.napari.reader import napari_get_reader, read_vsr
from visor_xarray.napari.sample import layer_data
from visor_xarray.napari.view import add_layers, view, view_layers
from visor_xarray.napari.widget import add_sample_layers, make_widget, sample_choices

__all__ = [
    "LayerDataTuple",
    "add_layers",
    "add_sample_layers",
    "channel_colormap",
    "layer_data",
    "make_widget",
    "napari_get_reader",
    "read_vsr",
    "sample_choices",
    "view",
    "view_layers",
]
