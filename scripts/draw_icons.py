"""Draw the PWA's icons with Pillow: a white shopping bag with barcode bars on the theme green.

Run ``python scripts/draw_icons.py`` after changing the design; the PNGs are committed.
"any" icons have rounded corners and fill the square; "maskable" icons fill the whole
square with the background and keep the glyph inside the central 80 % safe zone, so any
launcher mask (circle, squircle) leaves it whole.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

THEME = (15, 92, 77)  # #0f5c4d, the manifest's theme_color
ACCENT = (255, 196, 0)  # #ffc400
WHITE = (255, 255, 255)
ICONS = Path(__file__).resolve().parent.parent / "static" / "icons"
# Bar widths of the barcode on the bag, in units; gaps alternate with bars.
BARS = [2, 1, 1, 3, 1, 2, 2, 1, 1, 2, 3, 1]


def draw_glyph(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float]) -> None:
    """Draw the bag with its handle and barcode inside ``box`` (left, top, right, bottom)."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    stroke = max(2, round(width * 0.07))
    # Handle: an arc above the bag's body.
    handle = (left + width * 0.3, top, right - width * 0.3, top + height * 0.42)
    draw.arc(handle, start=180, end=360, fill=WHITE, width=stroke)
    draw.line(
        [
            (handle[0] + stroke / 2, top + height * 0.21),
            (handle[0] + stroke / 2, top + height * 0.3),
        ],
        fill=WHITE,
        width=stroke,
    )
    draw.line(
        [
            (handle[2] - stroke / 2, top + height * 0.21),
            (handle[2] - stroke / 2, top + height * 0.3),
        ],
        fill=WHITE,
        width=stroke,
    )
    body = (left, top + height * 0.26, right, bottom)
    draw.rounded_rectangle(body, radius=width * 0.08, fill=WHITE)
    # Barcode bars across the body.
    units = sum(BARS) * 2 - 1
    bar_left = left + width * 0.16
    unit = (width * 0.68) / units
    bar_top, bar_bottom = top + height * 0.45, bottom - height * 0.14
    x = bar_left
    for index, bar in enumerate(BARS):
        draw.rectangle((x, bar_top, x + bar * unit - 1, bar_bottom), fill=THEME)
        x += bar * unit + (unit if index % 2 == 0 else unit * 2)
    # The scan line.
    draw.rectangle(
        (
            left + width * 0.08,
            (bar_top + bar_bottom) / 2 - stroke / 3,
            right - width * 0.08,
            (bar_top + bar_bottom) / 2 + stroke / 3,
        ),
        fill=ACCENT,
    )


def any_icon(size: int) -> Image.Image:
    """Return the regular icon: rounded square, glyph filling most of it."""
    scale = 4  # draw large and downsample for smooth edges
    big = size * scale
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 0.18, fill=THEME)
    margin = big * 0.2
    draw_glyph(draw, (margin, margin * 0.9, big - margin, big - margin * 1.05))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def maskable_icon(size: int) -> Image.Image:
    """Return the maskable icon: full-bleed background, glyph inside the 80 % safe circle."""
    scale = 4
    big = size * scale
    image = Image.new("RGB", (big, big), THEME)
    draw = ImageDraw.Draw(image)
    margin = big * 0.24  # the glyph's box fits well inside the safe zone's circle
    draw_glyph(draw, (margin, margin * 0.95, big - margin, big - margin * 1.02))
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    """Write every icon the manifest and the pages name."""
    ICONS.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        any_icon(size).save(ICONS / f"icon-{size}.png", optimize=True)
        maskable_icon(size).save(ICONS / f"maskable-{size}.png", optimize=True)
    maskable_icon(180).save(ICONS / "apple-touch-icon.png", optimize=True)
    any_icon(32).save(ICONS / "favicon-32.png", optimize=True)
    print(f"icons written to {ICONS}")


if __name__ == "__main__":
    main()
