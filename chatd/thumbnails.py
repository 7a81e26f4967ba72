"""Thumbnails of uploaded images: a pure, blocking function of a file on disk.

Theory of operation
-------------------
An upload is an image if Pillow opens it as PNG, JPEG, GIF or WebP: the content decides, not
the declared type, and no other decoder is ever tried (Pillow's others include formats that
run programs, such as EPS through Ghostscript). Opening reads the header only; the image's
pixel count is checked against ``max_pixels`` (``[files] max_image_pixels``) before anything
is decoded, so a small file that claims 30000x30000 pixels (a decompression bomb) costs a
header read. Pillow's own bomb check (``Image.MAX_IMAGE_PIXELS``) may refuse first, with an
error, or warn; either is caught and means "no thumbnail" (the test suite turns warnings into
errors), and the check here holds whatever Pillow's global is.

A JPEG is decoded at a reduced scale (``draft``: 1/2 to 1/8 of its size, never below twice
the thumbnail's box), which makes a camera photo cheap; other formats are decoded whole, at
most 4 bytes a pixel, and reduced through a copy (Pillow premultiplies alpha in a copy of the
same size), so a thumbnail takes up to about 8 bytes a pixel at its peak: ``max_pixels``
bounds that. An animated GIF or WebP gives
its first frame. The image is reduced to fit :data:`BOX` (aspect kept, never enlarged), then
turned as its EXIF Orientation says (after the reduction, so that the turn copies a small
image; the box is square, so the order does not change the fit); the width and height
reported for the original are after that turn, as a viewer shows it. The thumbnail is WebP
(small, with alpha, shown by every current browser).

Anything that fails (a corrupt or truncated file, a decoder's error of any kind) gives None:
the upload is kept as a plain file, without a thumbnail and without an error to the user.

A profile picture (:func:`make_avatar`) is made the same way, with the same formats, the
same pixel bound and the same reduced JPEG decode, but cropped to the centred square of the
image and scaled to :data:`AVATAR_SIZE` on each side (enlarged if smaller), as Slack and
Mattermost crop theirs. The crop is taken before the EXIF turn: a centred square turned is
the centred square of the turned image, so the order changes nothing but the cost.

A custom emoji's picture (:func:`make_emoji`) is reduced to fit :data:`EMOJI_SIZE` square
(aspect kept, never enlarged: a 16x16 pixel-art emoji stays sharp in the browser's
scaling), always with alpha. An animated GIF or WebP stays animated (Pillow decodes one
frame at a time and writes an animated WebP): its first :data:`EMOJI_FRAMES` frames, each
with its duration, and no more frames than keep the decoded pixels of all of them within
``max_pixels`` (the time spent grows with them, the memory held is the small frames').
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from PIL import ExifTags, Image

__all__ = ["AVATAR_SIZE", "BOX", "DEFAULT_MAX_PIXELS", "EMOJI_FRAMES", "EMOJI_SIZE", "FORMATS",
           "THUMBNAIL_TYPE", "Thumbnail", "make_avatar", "make_emoji", "make_thumbnail"]

log = logging.getLogger(__name__)

#: The largest thumbnail, in pixels (width, height).
BOX = (400, 400)

#: A profile picture's side, in pixels: twice the largest the page shows, for dense screens.
AVATAR_SIZE = 256
#: A custom emoji's picture fits a square of this side (pixels).
EMOJI_SIZE = 128
#: The most frames an animated custom emoji keeps (a few seconds of animation).
EMOJI_FRAMES = 200

#: The default of ``[files] max_image_pixels``.
DEFAULT_MAX_PIXELS = 50_000_000

#: The formats that get a thumbnail, as Pillow names them (the only decoders tried).
FORMATS = ("PNG", "JPEG", "GIF", "WEBP")
# What Pillow may call them once open: a JPEG with several pictures, as some cameras write, is
# an MPO (its first picture is read).
_OPENED = frozenset({*FORMATS, "MPO"})

#: The thumbnail's Content-Type.
THUMBNAIL_TYPE = "image/webp"

_WEBP_QUALITY = 80
# What each EXIF Orientation asks for (as ImageOps.exif_transpose reads it); 5-8 swap width and
# height (a quarter turn, with or without a flip).
_T = TypeVar("_T")

_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_SWAPPED = frozenset({5, 6, 7, 8})


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Thumbnail:
    """A thumbnail (``data``, WebP, ``thumb_width`` x ``thumb_height``) of an image of
    ``width`` x ``height`` pixels (after its EXIF orientation)."""

    data: bytes
    width: int
    height: int
    thumb_width: int
    thumb_height: int


def make_thumbnail(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Thumbnail | None:
    """The thumbnail of the image in the file at ``path``; blocks (decoding takes CPU time
    and up to 4 bytes a pixel): call it in a worker thread.

    Args:
        path: the uploaded file.
        max_pixels: images with more pixels (width times height, from the header) are not
            decoded.

    Returns:
        The thumbnail, or None when the file is not a PNG, JPEG, GIF or WebP image, has more
        than ``max_pixels`` pixels, or fails to decode.
    """
    return _decoded(path, lambda image: _thumbnail(image, max_pixels))


def _decoded(path: Path, make: Callable[[Image.Image], _T | None]) -> _T | None:
    """What ``make`` makes of the image in the file at ``path``; None when it is not an image
    Pillow may open here (:data:`FORMATS`) or fails to decode."""
    try:
        with Image.open(path, formats=FORMATS) as image:
            return make(image)
    except Exception as exc:  # decoders raise many types on broken input
        log.debug("nothing made of %s: %r", path.name, exc)
        return None


def _loaded(image: Image.Image, max_pixels: int, draft: tuple[int, int]
            ) -> tuple[int, int, int] | None:
    """Load ``image`` (its first frame; a JPEG decoded at no less than ``draft``) and return
    its width and height as stored and its EXIF orientation; None, and nothing decoded, when
    it is not of a format taken (:data:`_OPENED`) or has more than ``max_pixels`` pixels."""
    width, height = image.size
    if image.format not in _OPENED or width * height > max_pixels:
        return None
    orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
    if image.format in ("JPEG", "MPO"):
        image.draft("RGB", draft)
    image.load()  # the first frame of an animation
    return width, height, orientation


def _thumbnail(image: Image.Image, max_pixels: int) -> Thumbnail | None:
    loaded = _loaded(image, max_pixels, (2 * BOX[0], 2 * BOX[1]))
    if loaded is None:
        return None
    width, height, orientation = loaded
    if image.mode not in ("RGB", "RGBA", "L", "LA"):
        # Palette and bilevel images would be reduced by dropping pixels; wider modes (16-bit,
        # CMYK) are not WebP's.
        alpha = "A" in image.mode or "transparency" in image.info
        image = image.convert("RGBA" if alpha else "RGB")
    image.thumbnail(BOX, Image.Resampling.LANCZOS)
    image = _upright(image, orientation)
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.mode else "RGB")
    data = _webp([image])
    if orientation in _SWAPPED:
        width, height = height, width
    return Thumbnail(data=data, width=width, height=height,
                     thumb_width=image.width, thumb_height=image.height)


def make_avatar(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes | None:
    """A profile picture (WebP, :data:`AVATAR_SIZE` square, the image's centred square) of
    the image in the file at ``path``; blocks: call it in a worker thread.

    Returns:
        The WebP bytes, or None when the file is not a PNG, JPEG, GIF or WebP image, has more
        than ``max_pixels`` pixels, or fails to decode.
    """
    return _decoded(path, lambda image: _avatar(image, max_pixels))


def _avatar(image: Image.Image, max_pixels: int) -> bytes | None:
    # A JPEG's draft keeps at least the size asked for each side: the square's side is the
    # shorter one, so ask for twice the picture on both.
    loaded = _loaded(image, max_pixels, (2 * AVATAR_SIZE, 2 * AVATAR_SIZE))
    if loaded is None:
        return None
    orientation = loaded[2]
    if image.mode not in ("RGB", "RGBA"):
        alpha = "A" in image.mode or "transparency" in image.info
        image = image.convert("RGBA" if alpha else "RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.resize((AVATAR_SIZE, AVATAR_SIZE), Image.Resampling.LANCZOS,
                         box=(left, top, left + side, top + side))
    return _webp([_upright(image, orientation)])


def make_emoji(path: Path, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> bytes | None:
    """A custom emoji's picture (WebP that fits :data:`EMOJI_SIZE` square, animated when the
    image is) of the image in the file at ``path``; blocks: call it in a worker thread.

    Returns:
        The WebP bytes, or None when the file is not a PNG, JPEG, GIF or WebP image, has more
        than ``max_pixels`` pixels, or fails to decode.
    """
    return _decoded(path, lambda image: _emoji(image, max_pixels))


def _emoji(image: Image.Image, max_pixels: int) -> bytes | None:
    loaded = _loaded(image, max_pixels, (2 * EMOJI_SIZE, 2 * EMOJI_SIZE))
    if loaded is None:
        return None
    width, height, orientation = loaded
    # Counted once the size is known to be within the bound (counting seeks through them).
    frames = min(int(getattr(image, "n_frames", 1)), EMOJI_FRAMES,
                 max(1, max_pixels // max(1, width * height)))
    made: list[Image.Image] = []
    durations: list[int] = []
    for index in range(frames):
        if index:
            image.seek(index)
        frame = image.convert("RGBA")
        frame.thumbnail((EMOJI_SIZE, EMOJI_SIZE), Image.Resampling.LANCZOS)
        made.append(_upright(frame, orientation))
        durations.append(int(image.info.get("duration") or 100))
    return _webp(made, durations)


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    """``image`` turned as its EXIF ``orientation`` says (as it is for 1, or one unknown)."""
    turn = _TURNS.get(orientation)
    return image if turn is None else image.transpose(turn)


def _webp(frames: list[Image.Image], durations: list[int] | None = None) -> bytes:
    """``frames`` as WebP: the one image, or an animation of them (each shown for its
    ``durations`` ms, looping)."""
    out = io.BytesIO()
    if len(frames) == 1:
        frames[0].save(out, "WEBP", quality=_WEBP_QUALITY)
    else:
        frames[0].save(out, "WEBP", quality=_WEBP_QUALITY, save_all=True,
                       append_images=frames[1:], duration=durations, loop=0)
    return out.getvalue()
