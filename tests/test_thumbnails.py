"""Thumbnails (chatd/thumbnails.py): which files get one, its size and orientation, and that
a decompression bomb is never decoded. Pure: files in a temporary folder, no daemon."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageOps, ImageStat

from chatd.thumbnails import (
    AVATAR_SIZE,
    BOX,
    DEFAULT_MAX_PIXELS,
    EMOJI_FRAMES,
    EMOJI_SIZE,
    Thumbnail,
    make_avatar,
    make_emoji,
    make_thumbnail,
)
from tests.images import animation, encode, picture, png_bomb, with_orientation


def _file(tmp_path: Path, data: bytes, name: str = "upload.part") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _decoded(thumb: Thumbnail) -> Image.Image:
    image = Image.open(io.BytesIO(thumb.data))
    assert image.format == "WEBP"
    assert image.size == (thumb.thumb_width, thumb.thumb_height)
    return image.convert("RGB")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
@pytest.mark.parametrize(("size", "thumb"), [
    ((1200, 600), (400, 200)),
    ((300, 900), (133, 400)),
    ((4000, 4000), (400, 400)),
    ((100, 50), (100, 50)),
    ((5000, 3), (400, 1)),
])
def test_formats_and_sizes(tmp_path: Path, fmt: str, size: tuple[int, int],
                           thumb: tuple[int, int]) -> None:
    """PNG, JPEG, GIF and WebP get a WebP thumbnail within 400x400, aspect kept, never
    enlarged; the original's size is reported."""
    made = make_thumbnail(_file(tmp_path, encode(picture(*size), fmt)))
    assert made is not None
    assert (made.width, made.height) == size
    assert (made.thumb_width, made.thumb_height) == thumb
    _decoded(made)


def test_content_decides_not_the_name(tmp_path: Path) -> None:
    """A JPEG named .png and a PNG named .txt are read for what they are."""
    for name, fmt in (("photo.png", "JPEG"), ("notes.txt", "PNG")):
        made = make_thumbnail(_file(tmp_path, encode(picture(800, 400), fmt), name))
        assert made is not None and made.thumb_width == 400


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    """The thumbnail is turned as the EXIF Orientation says (as ImageOps.exif_transpose
    turns the whole image), and the reported size is the turned one: 6 (a quarter turn)
    swaps width and height."""
    data = with_orientation(1200, 600, orientation)
    made = make_thumbnail(_file(tmp_path, data))
    assert made is not None
    swapped = orientation in (5, 6, 7, 8)
    assert (made.width, made.height) == ((600, 1200) if swapped else (1200, 600))
    assert (made.thumb_width, made.thumb_height) == ((200, 400) if swapped else (400, 200))
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")
    expected = expected.resize((made.thumb_width, made.thumb_height))
    difference = ImageStat.Stat(ImageChops.difference(_decoded(made), expected)).mean
    assert max(difference) < 8, difference


def test_orientation_6_turns_clockwise(tmp_path: Path) -> None:
    """Orientation 6 shows the stored top edge on the right: the gradient (dark at the
    stored top) is dark on the right of the thumbnail."""
    made = make_thumbnail(_file(tmp_path, with_orientation(1200, 600, 6)))
    assert made is not None
    shown = _decoded(made).convert("L")
    left = shown.getpixel((5, made.thumb_height // 2))
    right = shown.getpixel((made.thumb_width - 5, made.thumb_height // 2))
    assert isinstance(left, int) and isinstance(right, int)
    assert left > 200 > 50 > right


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animation_gives_its_first_frame(tmp_path: Path, fmt: str) -> None:
    """An animated GIF or WebP gives a still thumbnail of its first frame."""
    data = animation(fmt, 600, 300, [(255, 0, 0), (0, 255, 0), (0, 0, 255)])
    made = make_thumbnail(_file(tmp_path, data))
    assert made is not None
    assert (made.width, made.height, made.thumb_width, made.thumb_height) == (600, 300, 400, 200)
    image = Image.open(io.BytesIO(made.data))
    assert getattr(image, "n_frames", 1) == 1
    red, green, blue = image.convert("RGB").getpixel((200, 100))  # type: ignore[misc]
    assert red > 200 and green < 50 and blue < 50


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "PA", "RGBA", "I;16", "CMYK"])
def test_every_mode_gives_a_thumbnail(tmp_path: Path, mode: str) -> None:
    """Bilevel, grey, palette (with transparency), 16-bit and CMYK images all give a
    thumbnail, with alpha where the image had some."""
    image = Image.new(mode, (800, 400))
    fmt = "JPEG" if mode == "CMYK" else "WEBP" if mode == "PA" else "PNG"
    made = make_thumbnail(_file(tmp_path, encode(image, fmt)))
    assert made is not None and (made.thumb_width, made.thumb_height) == (400, 200)
    shown = Image.open(io.BytesIO(made.data))
    assert shown.mode == ("RGBA" if "A" in mode else "RGB")


def test_a_png_bomb_is_not_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 30000x30000 PNG of a few hundred KB gives no thumbnail, also with Pillow's own bomb
    check turned off (the cap here is checked from the header)."""
    bomb = _file(tmp_path, png_bomb(30000, 30000))
    assert bomb.stat().st_size < 1_000_000
    assert make_thumbnail(bomb) is None
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert make_thumbnail(bomb) is None


def test_the_cap_is_checked_here(tmp_path: Path) -> None:
    """An image of 9000x9000 (81 million pixels: under Pillow's own limit, over the default
    cap of 50 million) gives no thumbnail; the cap is max_pixels, exactly."""
    assert make_thumbnail(_file(tmp_path, png_bomb(9000, 9000, "RGBA"))) is None
    assert 9000 * 9000 > DEFAULT_MAX_PIXELS > 7000 * 7000
    path = _file(tmp_path, encode(picture(2000, 1000), "PNG"))
    assert make_thumbnail(path, max_pixels=1_999_999) is None
    assert make_thumbnail(path, max_pixels=2_000_000) is not None


def test_pillow_bomb_warning_and_error_are_caught(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow's DecompressionBombWarning (as an error, as the test suite makes warnings)
    and DecompressionBombError mean no thumbnail, never an exception."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    warned = _file(tmp_path, encode(picture(50, 30), "PNG"), "warned.png")  # 1500 pixels
    refused = _file(tmp_path, encode(picture(100, 30), "PNG"), "refused.png")  # 3000
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert make_thumbnail(warned) is None
        assert make_thumbnail(refused) is None


@pytest.mark.parametrize("data", [
    pytest.param(b"", id="empty"),
    pytest.param(b"<html><script>alert(1)</script></html>", id="html"),
    pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"/>', id="svg"),
    pytest.param(encode(picture(300, 200), "PNG")[:400], id="truncated png"),
    pytest.param(encode(picture(300, 200), "JPEG")[:300], id="truncated jpeg"),
    pytest.param(encode(picture(300, 200), "GIF")[:100], id="truncated gif"),
    pytest.param(encode(picture(300, 200), "WEBP")[:60], id="truncated webp"),
    pytest.param(b"\x89PNG\r\n\x1a\n" + b"\xff" * 200, id="png signature, garbage"),
    pytest.param(b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x13" * 300, id="jpeg garbage"),
    pytest.param(encode(picture(300, 200), "BMP"), id="bmp"),
    pytest.param(encode(picture(300, 200), "TIFF"), id="tiff"),
    pytest.param(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", id="eps"),
])
def test_anything_else_is_a_plain_file(tmp_path: Path, data: bytes) -> None:
    """Files that are not PNG, JPEG, GIF or WebP (even images Pillow could read: BMP, TIFF;
    never EPS, which would run Ghostscript), and images that fail to decode, give None."""
    assert make_thumbnail(_file(tmp_path, data)) is None


def test_a_missing_file_gives_none(tmp_path: Path) -> None:
    """An unreadable file is no image, not an error."""
    assert make_thumbnail(tmp_path / "gone") is None


@settings(max_examples=40)
@given(width=st.integers(1, 2500), height=st.integers(1, 2500))
def test_any_size_fits_the_box_keeping_its_aspect(width: int, height: int) -> None:
    """Any width x height within the cap gives a thumbnail within 400x400, never larger than
    the image, as large as the box allows, with its aspect kept within a pixel's rounding."""
    out = io.BytesIO()
    Image.new("L", (width, height), 128).save(out, "PNG")
    made = _thumbnail_of(out.getvalue())
    assert made is not None
    tw, th = made.thumb_width, made.thumb_height
    assert 1 <= tw <= min(width, BOX[0]) and 1 <= th <= min(height, BOX[1])
    assert max(tw, th) == min(max(width, height), BOX[0])
    assert abs(tw * height - th * width) <= max(width, height)


def _thumbnail_of(data: bytes) -> Thumbnail | None:
    # hypothesis and function-scoped fixtures (tmp_path) do not mix: a folder of its own.
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        return make_thumbnail(_file(Path(folder), data))


def _halves(width: int, height: int) -> Image.Image:
    """Red on the left half, blue on the right."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    return image


@pytest.mark.parametrize(("fmt", "size"), [("PNG", (300, 200)), ("JPEG", (200, 300)),
                                           ("GIF", (40, 30)), ("WEBP", (1000, 999))])
def test_a_picture_is_the_centred_square(tmp_path: Path, fmt: str, size: tuple[int, int]
                                         ) -> None:
    """make_avatar: any format and shape, small ones enlarged, gives a 256x256 WebP of the
    image's centred square (red left, blue right still)."""
    data = make_avatar(_file(tmp_path, encode(_halves(*size), fmt)))
    assert data is not None
    made = Image.open(io.BytesIO(data))
    assert (made.format, made.size) == ("WEBP", (AVATAR_SIZE, AVATAR_SIZE))
    rgb = made.convert("RGB")
    left, right = rgb.getpixel((10, 128)), rgb.getpixel((245, 128))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert left[0] > 180 > left[2] and right[2] > 180 > right[0], (left, right)


def test_a_picture_is_turned_as_its_exif_says(tmp_path: Path) -> None:
    """Orientation 6 (a quarter turn clockwise): what was the left half shows on top."""
    exif = Image.Exif()
    exif[0x0112] = 6
    data = make_avatar(_file(tmp_path, encode(_halves(300, 200), "JPEG", exif=exif.tobytes())))
    assert data is not None
    rgb = Image.open(io.BytesIO(data)).convert("RGB")
    top, bottom = rgb.getpixel((128, 10)), rgb.getpixel((128, 245))
    assert isinstance(top, tuple) and isinstance(bottom, tuple)
    assert top[0] > 180 > top[2] and bottom[2] > 180 > bottom[0], (top, bottom)


@pytest.mark.parametrize("data", [b"", b"plain text", encode(Image.new("RGB", (8, 8)), "BMP"),
                                  png_bomb(3000, 3000)])
def test_anything_else_gives_no_picture(tmp_path: Path, data: bytes) -> None:
    """Not a PNG, JPEG, GIF or WebP, or past max_pixels: None."""
    assert make_avatar(_file(tmp_path, data), max_pixels=4_000_000) is None


@pytest.mark.parametrize(("size", "expected"), [
    ((300, 150), (EMOJI_SIZE, EMOJI_SIZE // 2)), ((40, 90), (40, 90)), ((128, 128), (128, 128)),
])
def test_an_emoji_fits_the_square_never_enlarged_with_alpha(tmp_path: Path, size: tuple[int, int],
                                                            expected: tuple[int, int]) -> None:
    """make_emoji: a WebP that fits 128x128, aspect kept, never enlarged; transparency kept."""
    image = Image.new("RGBA", size, (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (size[0] // 4, size[1] // 4, size[0] // 2, size[1] // 2))
    data = make_emoji(_file(tmp_path, encode(image, "PNG")))
    assert data is not None
    made = Image.open(io.BytesIO(data))
    assert (made.format, made.size, made.mode) == ("WEBP", expected, "RGBA")
    assert made.getpixel((0, 0))[3] == 0  # type: ignore[index]


def test_an_animated_emoji_keeps_its_frames_within_the_bounds(tmp_path: Path) -> None:
    """An animated GIF stays animated, each frame's duration kept; no more frames than fit
    in max_pixels, nor than EMOJI_FRAMES; one past the pixel bound is refused whole."""
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    path = _file(tmp_path, animation("GIF", 100, 100, colours))
    made = Image.open(io.BytesIO(make_emoji(path) or b""))
    made.seek(1)
    made.load()
    assert (getattr(made, "n_frames", 1), made.info.get("duration")) == (3, 100)
    capped = Image.open(io.BytesIO(make_emoji(path, max_pixels=25_000) or b""))
    assert getattr(capped, "n_frames", 1) == 2
    assert make_emoji(path, max_pixels=9_999) is None
    distinct = [((i * 37) % 256, (i * 91) % 256, (i * 53) % 256) for i in range(EMOJI_FRAMES + 5)]
    many = _file(tmp_path, animation("GIF", 8, 8, distinct),
                 "many.gif")
    assert getattr(Image.open(io.BytesIO(make_emoji(many) or b"")), "n_frames", 1) == EMOJI_FRAMES
    assert make_emoji(_file(tmp_path, png_bomb(3000, 3000), "bomb.png"),
                      max_pixels=4_000_000) is None
    assert make_emoji(_file(tmp_path, b"not an image", "text.png")) is None
