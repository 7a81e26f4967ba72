"""Images for the tests of thumbnails: small files of each format, with an EXIF orientation,
animated, corrupt, and PNG decompression bombs built without ever holding their pixels."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image

# What a PNG bomb's pixels are: (bit depth, colour type, bytes a row).
_PNG_MODES = {"1": (1, 0, lambda w: (w + 7) // 8), "RGBA": (8, 6, lambda w: 4 * w)}


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    """``image`` saved as ``fmt`` (PNG, JPEG, GIF, WEBP, BMP...)."""
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """An image that is not uniform: a gradient, so that a wrong turn or crop shows."""
    gradient = Image.linear_gradient("L").resize((width, height))
    return gradient.convert(mode)


def with_orientation(width: int, height: int, orientation: int) -> bytes:
    """A JPEG stored ``width`` x ``height`` whose EXIF says to show it turned
    (``orientation`` 6: a quarter turn clockwise, so it shows ``height`` x ``width``)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(picture(width, height), "JPEG", exif=exif.tobytes())


def animation(fmt: str, width: int, height: int, colours: list[tuple[int, int, int]]
              ) -> bytes:
    """An animated GIF or WebP, one frame per colour."""
    frames = [Image.new("RGB", (width, height), colour) for colour in colours]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100,
                  loop=0)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int, height: int, mode: str = "1") -> bytes:
    """A valid PNG of ``width`` x ``height`` pixels, all zero, compressed row by row: a few
    hundred KB on disk however many pixels it claims (``mode`` ``"1"``: one bit a pixel,
    ``"RGBA"``: four bytes a pixel once decoded)."""
    depth, colour, row_bytes = _PNG_MODES[mode]
    compressor = zlib.compressobj(6)
    row = b"\0" * (1 + row_bytes(width))  # filter type 0, then the row
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", body)
            + _chunk(b"IEND", b""))
