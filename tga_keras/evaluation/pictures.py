"""Pictures for people: zoomed comparisons, attention heat maps and PSNR-per-frame plots.

Images are RGB ``(H, W, 3)`` arrays, either float in ``[0, 1]`` or ``uint8`` ``0..255``; every
function that returns a picture returns ``uint8`` RGB (write it with ``cv2.imwrite(path, rgb[..., ::-1])``
or :func:`write_png`). Nothing here smooths what it enlarges: zoomed crops are nearest-neighbour
with an integer factor, so one LR pixel is a ``k x k`` block of equal values and the differences
between bicubic and TGA are the networks', not the viewer's.

- :func:`comparison_strip`: the same crop of LR (nearest) | bicubic | TGA | ground truth, enlarged
  and labelled; the crop is the most textured region (:func:`choose_crop`) unless given.
- :func:`attention_picture`: the temporal group attention (``(G, h, w)``, softmax over the groups)
  of one window as heat maps over the reference frame, one panel per group, with a colour bar.
- :func:`attention_maps`: those maps from a TGA Keras model and one LR window.
- :func:`write_psnr_plot`: PSNR-Y per frame (matplotlib, optional), as ``tga evaluate --plot`` and
  ``tga demo`` draw it.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Sequence

import numpy as np

# ------------------------------------------------------------------------------ basics
GAP = 4  # white pixels between panels
BAND = (0, 0, 0)  # label band colour (blended over the image)
BAND_OPACITY = 0.65
TEXT = (255, 255, 255)
CROP_BOX = (255, 220, 0)  # the crop's outline on an overview panel (RGB yellow)


def to_u8(image: np.ndarray) -> np.ndarray:
    """``uint8`` as is; float ``[0, 1]`` -> ``uint8`` (clipped, rounded half up, as ``to_output``)."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"images must be uint8 or float in [0, 1], got dtype {image.dtype}")
    return (np.clip(image, 0.0, 1.0) * np.float32(255.0) + np.float32(0.5)).astype(np.uint8)


def _rgb(image: np.ndarray, name: str = "image") -> np.ndarray:
    image = to_u8(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be an (H, W, 3) RGB image, got shape {image.shape}")
    return image


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement by an integer ``factor``: ``(H, W, ...)`` -> ``(k*H, k*W, ...)``.

    Each pixel becomes a ``factor x factor`` block of equal values (no smoothing); same dtype.
    """
    if isinstance(factor, bool) or int(factor) != factor or factor < 1:
        raise ValueError(f"enlargement factor must be an integer >= 1, got {factor!r}")
    k = int(factor)
    return np.repeat(np.repeat(np.asarray(image), k, axis=0), k, axis=1)


def _font_scale(lines: Sequence[str], width: int, wanted: float) -> float:
    """The largest font scale <= ``wanted`` at which every line fits ``width`` (with margins)."""
    import cv2

    scale = wanted
    while scale > 0.3:
        widest = max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for t in lines)
        if widest + 12 <= width:
            break
        scale -= 0.05
    return scale


def label(image: np.ndarray, text: str, font_scale: float | None = None) -> np.ndarray:
    """``image`` (RGB, float [0, 1] or uint8) with ``text`` on a dark band across its top, as uint8 RGB.

    ``text`` may hold several lines (``'\\n'``). The band is black at :data:`BAND_OPACITY` over the
    image, the text white; the font shrinks to fit the width (``font_scale``: the size to start
    from, default from the image width: 0.5 at 256 px).
    """
    import cv2

    out = _rgb(image).copy()
    h, w = out.shape[:2]
    lines = text.split("\n")
    wanted = font_scale if font_scale is not None else float(np.clip(w / 512, 0.4, 0.7))
    scale = _font_scale(lines, w, wanted)
    (_, th), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    step = th + base + 4
    band = min(h, _band_height(lines, scale))
    region = out[:band].astype(np.float32)
    out[:band] = (region * (1 - BAND_OPACITY) + np.array(BAND, np.float32) * BAND_OPACITY + 0.5).astype(np.uint8)
    for k, line in enumerate(lines):
        y = 4 + th + k * step
        cv2.putText(out, line, (6, y), cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT, 1, cv2.LINE_AA)
    return out


def header(image: np.ndarray, text: str, font_scale: float | None = None) -> np.ndarray:
    """``image`` with a dark band holding ``text`` (lines split at ``'\\n'``) added above it: uint8 RGB.

    Unlike :func:`label`, nothing of the image is covered; the result is taller by the band.
    """
    img = _rgb(image)
    lines = text.split("\n")
    w = img.shape[1]
    wanted = font_scale if font_scale is not None else float(np.clip(w / 640, 0.4, 0.55))
    band = np.zeros((_band_height(lines, _font_scale(lines, w, wanted)), w, 3), np.uint8)
    return np.concatenate([label(band, text, font_scale=wanted), img], axis=0)


def _band_height(lines: Sequence[str], scale: float) -> int:
    import cv2

    (_, th), base = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    return 6 + (th + base + 4) * len(lines)


def hstack(panels: Sequence[np.ndarray], gap: int = GAP) -> np.ndarray:
    """Panels of equal height side by side, ``gap`` white pixels apart: uint8 RGB."""
    panels = [_rgb(p, "panel") for p in panels]
    h = panels[0].shape[0]
    if any(p.shape[0] != h for p in panels):
        raise ValueError(f"panels must have the same height, got {[p.shape[0] for p in panels]}")
    spacer = np.full((h, gap, 3), 255, np.uint8)
    parts: list[np.ndarray] = []
    for k, p in enumerate(panels):
        parts += ([spacer] if k and gap else []) + [p]
    return np.concatenate(parts, axis=1)


def write_png(path: str | os.PathLike[str], rgb: np.ndarray) -> None:
    """Write an RGB picture with OpenCV (format from the extension; PNGs fully compressed); ``OSError`` if it cannot."""
    import cv2

    params = [cv2.IMWRITE_PNG_COMPRESSION, 9]
    if not cv2.imwrite(os.fspath(path), np.ascontiguousarray(_rgb(rgb)[:, :, ::-1]), params):
        raise OSError(f"cannot write {os.fspath(path)}")


# ------------------------------------------------------------------------------ crops
@dataclasses.dataclass(frozen=True)
class Crop:
    """A rectangle in output (SR) pixels: rows ``top .. top + height``, columns ``left .. left + width``."""

    top: int
    left: int
    height: int
    width: int

    def of(self, image: np.ndarray) -> np.ndarray:
        """The rectangle of an ``(H, W, ...)`` array."""
        return image[self.top : self.top + self.height, self.left : self.left + self.width]

    def scaled(self, factor: int) -> Crop:
        """The same rectangle on an image ``factor`` times smaller (``factor`` must divide every side)."""
        sides = (self.top, self.left, self.height, self.width)
        if any(v % factor for v in sides):
            raise ValueError(f"crop {self} is not on the x{factor} grid of the LR frame")
        return Crop(*(v // factor for v in sides))


def texture(image: np.ndarray) -> np.ndarray:
    """Gradient magnitude of the luminance: ``(H, W, 3)`` RGB -> ``(H, W)`` float32, ~0..1.41 for [0, 1] input."""
    rgb = to_u8(image).astype(np.float32) / 255.0
    y = rgb @ np.array([0.299, 0.587, 0.114], np.float32) if rgb.ndim == 3 else rgb
    gy = np.zeros_like(y)
    gx = np.zeros_like(y)
    gy[1:-1] = (y[2:] - y[:-2]) / 2
    gx[:, 1:-1] = (y[:, 2:] - y[:, :-2]) / 2
    return np.sqrt(gx * gx + gy * gy)


def choose_crop(image: np.ndarray, height: int, width: int, grid: int = 1) -> Crop:
    """The ``height x width`` rectangle of ``image`` with the most texture (largest summed :func:`texture`).

    ``grid``: corners on multiples of it (the scale, so that the LR frame has the same crop).
    Ties go to the top-left-most rectangle. ``image`` is ``(H, W, 3)``; the crop must fit.
    """
    h, w = image.shape[:2]
    if not (0 < height <= h and 0 < width <= w):
        raise ValueError(f"a {width}x{height} crop does not fit a {w}x{h} image")
    return best_box(texture(image), height, width, grid)


def best_box(score: np.ndarray, height: int, width: int, grid: int = 1) -> Crop:
    """The ``height x width`` rectangle of a ``(H, W)`` score map with the largest sum.

    ``grid``: corners on multiples of it. Ties go to the top-left-most rectangle; the box must fit.
    """
    h, w = score.shape[:2]
    if not (0 < height <= h and 0 < width <= w):
        raise ValueError(f"a {width}x{height} crop does not fit a {w}x{h} image")
    integral = np.zeros((h + 1, w + 1))
    integral[1:, 1:] = np.asarray(score, np.float64).cumsum(0).cumsum(1)
    tops = np.arange(0, h - height + 1, grid)
    lefts = np.arange(0, w - width + 1, grid)
    y0, x0 = tops[:, None], lefts[None, :]
    sums = integral[y0 + height, x0 + width] - integral[y0, x0 + width] - integral[y0 + height, x0] + integral[y0, x0]
    i, j = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return Crop(int(tops[i]), int(lefts[j]), height, width)


def default_crop_size(height: int, width: int, scale: int, limit: int = 128) -> int:
    """Side of the square crop of an ``height x width`` output frame: about half its smaller side,
    at most ``limit``, a multiple of ``scale`` (at least ``scale``)."""
    side = min(limit, min(height, width) // 2)
    return max(scale, side - side % scale)


def default_zoom(side: int, target: int = 288) -> int:
    """Integer enlargement that brings a ``side``-pixel crop to about ``target`` pixels (at least 1)."""
    return max(1, round(target / side))


def overview(image: np.ndarray, crop: Crop, height: int, caption: str = "") -> np.ndarray:
    """The whole frame scaled to ``height`` rows with the crop outlined (and ``caption`` as a label)."""
    import cv2

    rgb = _rgb(image)
    h, w = rgb.shape[:2]
    f = height / h
    size = (max(1, round(w * f)), height)
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_NEAREST)
    y0, x0 = round(crop.top * f), round(crop.left * f)
    y1, x1 = round((crop.top + crop.height) * f) - 1, round((crop.left + crop.width) * f) - 1
    cv2.rectangle(small, (x0, y0), (x1, y1), CROP_BOX, 2)
    return label(small, caption) if caption else small


def comparison_strip(
    lr: np.ndarray,
    panels: Sequence[tuple[str, np.ndarray]],
    *,
    crop: Crop | None = None,
    crop_from: np.ndarray | None = None,
    zoom: int | None = None,
    lr_label: str | None = None,
    context: tuple[str, np.ndarray] | None = None,
    gap: int = GAP,
) -> tuple[np.ndarray, Crop, int]:
    """One crop of LR | each of ``panels``, enlarged without smoothing and labelled: ``(picture, crop, zoom)``.

    Args:
        lr: the LR frame ``(h, w, 3)`` (RGB, float [0, 1] or uint8).
        panels: ``(label, image)`` pairs, each image ``(s*h, s*w, 3)`` (bicubic, TGA, ground truth...).
        crop: the rectangle in output pixels (corners and sides multiples of ``s``); default:
            :func:`choose_crop` on ``crop_from`` (default: the last panel) with a square of
            :func:`default_crop_size`.
        zoom: enlargement of the output crops (the LR crop is enlarged ``s * zoom``); default
            :func:`default_zoom`.
        lr_label: the LR panel's label (default ``'LR (nearest x{s*zoom})'``).
        context: ``(caption, image)``: a first panel with this whole output-size frame, scaled to
            the panels' height, the crop outlined.

    Every crop panel is ``(crop.height * zoom, crop.width * zoom, 3)``; panels are ``gap`` white
    pixels apart. Returns uint8 RGB.
    """
    lr = _rgb(lr, "lr")
    if not panels:
        raise ValueError("comparison_strip needs at least one panel besides LR")
    images = [_rgb(img, name) for name, img in panels]
    h, w = lr.shape[:2]
    big_h, big_w = images[0].shape[:2]
    if big_h % h or big_w % w or big_h // h != big_w // w:
        raise ValueError(f"panels ({big_w}x{big_h}) are not an integer multiple of the LR frame ({w}x{h})")
    s = big_h // h
    for (name, _), img in zip(panels, images, strict=True):
        if img.shape != images[0].shape:
            raise ValueError(f"panel {name!r} has shape {img.shape}, the first panel {images[0].shape}")
    if crop is None:
        side = default_crop_size(big_h, big_w, s)
        crop = choose_crop(images[-1] if crop_from is None else crop_from, side, side, grid=s)
    if crop.top < 0 or crop.left < 0 or crop.top + crop.height > big_h or crop.left + crop.width > big_w:
        raise ValueError(f"crop {crop} is outside the {big_w}x{big_h} frame")
    lr_crop = crop.scaled(s).of(lr)
    if zoom is None:
        zoom = default_zoom(max(crop.height, crop.width))
    row = [label(enlarge(lr_crop, s * zoom), lr_label or f"LR (nearest x{s * zoom})")]
    row += [label(enlarge(crop.of(img), zoom), name) for (name, _), img in zip(panels, images, strict=True)]
    if context is not None:
        row.insert(0, overview(context[1], crop, row[0].shape[0], context[0]))
    return hstack(row, gap), crop, zoom


# ------------------------------------------------------------------------------ attention
HEAT_MAP = "INFERNO"  # perceptually uniform, luminance increasing from 0 (black) to 1 (pale yellow)


def heat_colors(values: np.ndarray) -> np.ndarray:
    """Attention values on the fixed scale ``[0, 1]`` (clipped) -> uint8 RGB colours of :data:`HEAT_MAP`.

    ``(...)`` float -> ``(..., 3)``: 0 is the colour map's first colour, 1 its last.
    """
    import cv2

    v = np.asarray(values, np.float32)
    idx = (np.clip(v, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    lut = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], getattr(cv2, f"COLORMAP_{HEAT_MAP}"))
    return lut[:, 0, ::-1][idx]  # BGR -> RGB


def heat_overlay(attention: np.ndarray, reference: np.ndarray, opacity: float = 0.6) -> np.ndarray:
    """One group's map ``(h, w)`` in [0, 1] over ``reference`` ``(H, W, 3)``: uint8 RGB ``(H, W, 3)``.

    The map is enlarged to the reference's size without smoothing (each attention value covers the
    ``H/h x W/w`` pixels it weighs); the colours (:func:`heat_colors`) are blended at ``opacity`` over
    the reference in grey, so the colour is the attention and the shapes are the picture.
    """
    import cv2

    ref = _rgb(reference, "reference")
    hh, ww = ref.shape[:2]
    att = np.asarray(attention, np.float32)
    if att.ndim != 2:
        raise ValueError(f"an attention map is (h, w), got shape {att.shape}")
    if att.shape != (hh, ww):
        att = np.asarray(cv2.resize(att, (ww, hh), interpolation=cv2.INTER_NEAREST), np.float32)
    grey = cv2.cvtColor(cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB).astype(np.float32)
    out = grey * (1 - opacity) + heat_colors(att).astype(np.float32) * opacity
    return (out + 0.5).astype(np.uint8)


def colour_bar(width: int, marks: Sequence[tuple[float, str]] = (), caption: str = "", height: int = 16) -> np.ndarray:
    """A horizontal :data:`HEAT_MAP` bar from 0 (left) to 1 (right) with tick labels below: uint8 RGB.

    ``marks``: ``(value, text)`` extra ticks (e.g. ``(1/3, 'uniform')``); 0, 0.5 and 1 are always
    marked; ``caption`` is centred under the ticks. White background, ``width`` wide.
    """
    import cv2

    pad = 14
    inner = width - 2 * pad
    if inner < 20:
        raise ValueError(f"a colour bar needs at least {2 * pad + 20} pixels, got {width}")
    scale = 0.4
    (_, th), base = cv2.getTextSize("0.5", cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    rows = height + 6 + th + base + 4 + (th + base + 6 if caption else 0)
    out = np.full((rows + 4, width, 3), 255, np.uint8)
    ramp = heat_colors(np.linspace(0.0, 1.0, inner))
    out[2 : 2 + height, pad : pad + inner] = ramp[None]
    cv2.rectangle(out, (pad - 1, 1), (pad + inner, 2 + height), (80, 80, 80), 1)
    ticks = [(0.0, "0"), (0.5, "0.5"), (1.0, "1"), *marks]
    for value, text in ticks:
        x = pad + round(value * (inner - 1))
        cv2.line(out, (x, 2 + height), (x, 2 + height + 4), (0, 0, 0), 1)
        tw = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0]
        tx = int(np.clip(x - tw // 2, 0, width - tw))
        cv2.putText(out, text, (tx, height + 8 + th), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    if caption:
        y = height + 8 + 2 * th + base + 6
        cs = _font_scale([caption], width, 0.45)
        cw = cv2.getTextSize(caption, cv2.FONT_HERSHEY_SIMPLEX, cs, 1)[0][0]
        cv2.putText(out, caption, ((width - cw) // 2, y), cv2.FONT_HERSHEY_SIMPLEX, cs, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def group_labels(groups: Sequence[Sequence[int]], centre: int, frame_numbers: Sequence[int] | None = None) -> list[str]:
    """Panel labels for the attention groups, e.g. ``'frames 0, 3, 6\\ndistance 3'``.

    ``groups``: window positions of each group (``TGAConfig.groups``); ``centre``: the reference's
    position. ``frame_numbers``: the video frame at each window position (edges of a video repeat
    frames), to name the video's frames instead of the window positions.
    """
    out = []
    for g in groups:
        distance = max(abs(i - centre) for i in g)
        frames = list(g) if frame_numbers is None else [frame_numbers[i] for i in g]
        out.append(f"frames {', '.join(str(i) for i in frames)}\ndistance {distance}")
    return out


def group_order(groups: Sequence[Sequence[int]]) -> list[int]:
    """Group indices by temporal distance, nearest first: ``[1, 2, 0]`` for the official (0,3,6), (2,3,4), (1,3,5)."""
    return sorted(range(len(groups)), key=lambda k: max(groups[k]) - min(groups[k]))


def attention_picture(
    attention: np.ndarray,
    reference: np.ndarray,
    labels: Sequence[str],
    *,
    order: Sequence[int] | None = None,
    zoom: int | None = None,
    title: str = "",
    gap: int = GAP,
) -> np.ndarray:
    """The group attention of one window as heat maps over its reference frame, side by side, with a colour bar.

    Args:
        attention: ``(G, h, w)`` float, softmax over the ``G`` groups (each pixel sums to 1), on the
            LR grid (or any grid the reference's size is an integer multiple of).
        reference: ``(H, W, 3)`` RGB frame to draw over (the SR output or the bicubic reference).
        labels: one per group (:func:`group_labels`); each panel also gets the group's mean weight.
        order: the groups' left-to-right order (default as given; :func:`group_order`: nearest first).
        zoom: nearest-neighbour enlargement of each panel (default: to about 288 px wide, at least 1).
        title: a line above the panels.

    The scale is fixed, 0..1 (not stretched to the data), so pictures compare; ``1/G`` (uniform
    attention, e.g. an untrained network) is marked on the bar. Returns uint8 RGB.
    """
    att = np.asarray(attention, np.float32)
    if att.ndim != 3:
        raise ValueError(f"attention must be (groups, h, w), got shape {att.shape}")
    if len(labels) != att.shape[0]:
        raise ValueError(f"{att.shape[0]} attention maps but {len(labels)} labels")
    ref = _rgb(reference, "reference")
    if zoom is None:
        zoom = default_zoom(ref.shape[1])
    order = list(range(len(att))) if order is None else [int(i) for i in order]
    if sorted(order) != list(range(len(att))):
        raise ValueError(f"order must list each of the {len(att)} groups once, got {order}")
    panels = [
        header(enlarge(heat_overlay(att[i], ref), zoom), f"{labels[i]}, mean weight {float(att[i].mean()):.2f}")
        for i in order
    ]
    body = hstack(panels, gap)
    g = att.shape[0]
    bar = colour_bar(
        body.shape[1],
        marks=[(1.0 / g, f"1/{g} (uniform)")],
        caption="attention weight of each group (softmax over the groups, fixed scale 0..1)",
    )
    parts = [body, bar]
    if title:
        parts.insert(0, _title(title, body.shape[1]))
    return np.concatenate(parts, axis=0)


def _title(text: str, width: int) -> np.ndarray:
    import cv2

    scale = _font_scale([text], width, 0.5)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    out = np.full((th + base + 10, width, 3), 255, np.uint8)
    cv2.putText(out, text, (6, th + 5), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def attention_maps(model: Any, window: np.ndarray) -> np.ndarray:
    """Run a TGA Keras model on one LR window and return its group attention: ``(G, h, w)`` float32.

    ``model``: a :class:`tga_keras.models.model.TGAModel` (with or without ``return_attention``; the
    attention is read from its ``attention`` block, sharing the weights). ``window``: ``(F, h, w, 3)``
    RGB float [0, 1] (or uint8). The maps are the softmax over the ``G`` groups: they sum to 1.
    """
    import keras

    config = getattr(model, "config", None)
    if config is None or not isinstance(model, keras.Model):
        raise ValueError("attention maps need a TGA Keras model (tga_keras.build_tga / load_tga)")
    x = np.asarray(window)
    x = (x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32))[None]
    if getattr(model, "return_attention", False):
        att = model(x, training=False)[1]
    else:
        probe = keras.Model(model.input, model.get_layer("attention").output[1])
        att = probe(x, training=False)  # (1, G, h, w, 1)
    att = np.asarray(keras.ops.convert_to_numpy(keras.ops.cast(att, "float32")))
    h, w = x.shape[2], x.shape[3]
    return att.reshape(len(config.groups), h, w)


# ------------------------------------------------------------------------------ PSNR plots
PLOT_FORMATS = (".png", ".pdf", ".svg")
MAX_PLOT_SEQUENCES = 6  # more sequences (or one frame each, as Vimeo test): one plot of per-sequence means
_LINES = (
    ("psnr", "TGA", "tab:blue", "-"),
    ("static_psnr", "TGA, static input", "tab:orange", "--"),
    ("bicubic_psnr", "bicubic", "tab:gray", ":"),
)


def have_matplotlib() -> bool:
    """Whether matplotlib (the optional ``plot`` extra) can be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write_psnr_plot(
    path: str, per_seq: dict[str, dict[str, list[float]]], frame_ids: dict[str, list[int]], title: str
) -> None:
    """Draw PSNR-Y (dB) per frame into ``path`` (format from its extension), matplotlib's Agg canvas, no pyplot.

    ``per_seq[name][key]``: per-frame figures in evaluation order for ``key`` in ``'psnr'``,
    ``'bicubic_psnr'`` and optionally ``'static_psnr'``; ``frame_ids[name]``: the reference frame
    indices (x axis). Up to :data:`MAX_PLOT_SEQUENCES` sequences with more than one frame get one
    panel each; otherwise one panel shows each sequence's mean. Legend labels carry the means.
    Needs matplotlib (``ImportError`` otherwise; check with :func:`have_matplotlib`).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    names = list(per_seq)
    lines = [ln for ln in _LINES if ln[0] in per_seq[names[0]]]
    per_frame = len(names) <= MAX_PLOT_SEQUENCES and any(len(frame_ids[n]) > 1 for n in names)
    panels = len(names) if per_frame else 1
    fig = Figure(figsize=(10, 1.0 + 2.8 * panels), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(panels, 1, squeeze=False)[:, 0]
    fig.suptitle(title, fontsize=11)
    if per_frame:
        for ax, name in zip(axes, names, strict=True):
            x = frame_ids[name]
            marker = "o" if len(x) <= 30 else None
            for key, text, color, style in lines:
                y = np.asarray(per_seq[name][key], np.float64)
                ax.plot(
                    x, y, style, color=color, marker=marker, markersize=3, label=f"{text} (mean {np.mean(y):.2f} dB)"
                )
            figs = per_seq[name]
            gain = (
                f"; temporal gain {np.mean(figs['psnr']) - np.mean(figs['static_psnr']):+.3f} dB"
                if "static_psnr" in figs
                else ""
            )
            ax.set_title(f"{name} ({len(x)} frames{gain})", fontsize=10)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("frame")
            ax.set_ylabel("PSNR-Y (dB)")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=8, loc="best")
    else:
        ax = axes[0]
        seq_x = np.arange(len(names))
        for key, text, color, style in lines:
            y = np.array([np.mean(per_seq[n][key]) for n in names])
            ax.plot(
                seq_x,
                y,
                style,
                color=color,
                marker="o" if len(names) <= 60 else None,
                markersize=3,
                label=f"{text} (mean {np.mean(y):.2f} dB)",
            )
        if len(names) <= 30:
            ax.set_xticks(seq_x, names, rotation=45, ha="right", fontsize=8)
            ax.set_xlabel("sequence")
        else:
            ax.set_xlabel(f"sequence (index of {len(names)})")
        ax.set_ylabel("mean PSNR-Y (dB)")
        ax.set_title(f"mean over the frames of each of {len(names)} sequences", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.savefig(path, dpi=110, format=os.path.splitext(path)[1].lstrip(".").lower() or "png")


__all__ = [
    "Crop",
    "MAX_PLOT_SEQUENCES",
    "PLOT_FORMATS",
    "attention_maps",
    "attention_picture",
    "choose_crop",
    "colour_bar",
    "comparison_strip",
    "default_crop_size",
    "default_zoom",
    "enlarge",
    "group_labels",
    "group_order",
    "header",
    "have_matplotlib",
    "heat_colors",
    "heat_overlay",
    "hstack",
    "label",
    "overview",
    "texture",
    "to_u8",
    "write_png",
    "write_psnr_plot",
]
