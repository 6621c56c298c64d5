"""Colormaps for channels, chosen by emission wavelength."""

from __future__ import annotations

__all__ = ["channel_colormap"]

# (upper bound in nm, napari colormap): the laser lines VISoR uses fall well inside these
# bands (405 blue, 488 green, 561 yellow, 640 magenta), and neighbours stay distinguishable
# when the channels are blended additively.
_BANDS = (
    (450.0, "blue"),
    (470.0, "cyan"),
    (530.0, "green"),
    (600.0, "yellow"),
    (700.0, "magenta"),
)


def channel_colormap(wavelength: float | None) -> str:
    """The napari colormap name for a channel of this wavelength.

    Parameters
    ----------
    wavelength : float or None
        Wavelength in nanometres; None (unknown) gives gray.

    Returns
    -------
    str
        ``"blue"`` below 450 nm, ``"cyan"`` below 470, ``"green"`` below 530, ``"yellow"``
        below 600, ``"magenta"`` below 700, ``"gray"`` otherwise (infrared or unknown).
    """
    if wavelength is None or wavelength < 380.0:
        return "gray"
    for upper, name in _BANDS:
        if wavelength < upper:
            return name
    return "gray"
