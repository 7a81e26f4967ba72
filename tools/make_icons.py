"""Draw the page's PNG icons (clients/web/icons/) from the shapes of clients/web/icon.svg.

Run once after changing the icon; the PNGs are committed, so nothing runs at install time::

    .venv/bin/python tools/make_icons.py

The SVG is 64 units square: a rounded square (radius 14) in the accent colour, a white speech
bubble (a rounded rectangle, radius 6, from (16, 14) to (48, 40), with a tail down to (21, 48))
and three dots. Each PNG is drawn 4 times larger and scaled down (anti-aliasing).

- ``icon-192.png``, ``icon-512.png``: as the SVG (purpose "any"), corners transparent.
- ``icon-maskable-512.png``: full bleed (the platform cuts its own shape), the bubble shrunk to
  stay inside the safe zone, the central circle of 80 % of the width.
- ``apple-touch-icon.png`` (180): full bleed too; iOS fills transparency with black.
- ``badge-96.png``: the bubble alone, white on transparent (Android draws a badge from its
  alpha only), the dots cut out.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ACCENT = (0x4F, 0x46, 0xE5, 255)
WHITE = (255, 255, 255, 255)
CLEAR = (0, 0, 0, 0)
SUPERSAMPLE = 4
OUT = Path(__file__).resolve().parent.parent / "clients" / "web" / "icons"


def _bubble(draw: ImageDraw.ImageDraw, unit: float, scale: float, fill: tuple[int, ...],
            dots: tuple[int, ...]) -> None:
    """The speech bubble and its dots, in SVG units scaled by ``scale`` about (32, 32)."""

    def at(x: float, y: float) -> tuple[float, float]:
        return ((32 + (x - 32) * scale) * unit, (32 + (y - 32) * scale) * unit)

    left, top = at(16, 14)
    right, bottom = at(48, 40)
    draw.rounded_rectangle((left, top, right, bottom), radius=6 * scale * unit, fill=fill)
    draw.polygon([at(30, 40), at(21, 48), at(21, 38), at(30, 38)], fill=fill)
    for cx in (25, 32, 39):
        x, y = at(cx, 27)
        r = 2.6 * scale * unit
        draw.ellipse((x - r, y - r, x + r, y + r), fill=dots)


def draw_icon(size: int, *, full_bleed: bool = False, scale: float = 1.0,
              badge: bool = False) -> Image.Image:
    """One icon ``size`` pixels square (see the module's docstring for the kinds)."""
    big = size * SUPERSAMPLE
    unit = big / 64
    image = Image.new("RGBA", (big, big), CLEAR)
    draw = ImageDraw.Draw(image)
    if badge:
        _bubble(draw, unit, scale, WHITE, CLEAR)
    else:
        if full_bleed:
            draw.rectangle((0, 0, big, big), fill=ACCENT)
        else:
            draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=14 * unit, fill=ACCENT)
        _bubble(draw, unit, scale, WHITE, ACCENT)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    OUT.mkdir(exist_ok=True)
    icons = {
        "icon-192.png": draw_icon(192),
        "icon-512.png": draw_icon(512),
        "icon-maskable-512.png": draw_icon(512, full_bleed=True, scale=0.8),
        "apple-touch-icon.png": draw_icon(180, full_bleed=True, scale=0.85),
        "badge-96.png": draw_icon(96, badge=True, scale=1.6),
    }
    for name, image in icons.items():
        image.save(OUT / name, optimize=True)
        print(f"{OUT / name}: {image.size[0]} px, {(OUT / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
