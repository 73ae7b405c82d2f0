"""A fake camera for Chromium: a Y4M video of a barcode, fed with --use-file-for-fake-video-capture.

Y4M is written by hand: a ``YUV4MPEG2`` header, then per frame ``FRAME\\n`` and the Y, Cb and
Cr planes of 4:2:0 (chroma at half width and height), taken from Pillow's YCbCr conversion.
"""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from PIL import Image

from server.barcodes import render_gtin
from server.gtin import parse_gtin

WIDTH, HEIGHT = 640, 480


def barcode_frame(code: str, width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    """Return an RGB frame with the product barcode for ``code`` centred on a light background."""
    return image_frame(render_gtin(parse_gtin(code), "png"), width, height)


def image_frame(
    png: bytes, width: int = WIDTH, height: int = HEIGHT, fill: float = 0.8
) -> Image.Image:
    """Return an RGB frame with the PNG image centred, filling ``fill`` of the frame."""
    symbol = Image.open(BytesIO(png)).convert("RGB")
    # Fill most of the frame, as a shopper holding the phone close to the code would.
    scale = min(width * fill / symbol.width, height * fill / symbol.height)
    symbol = symbol.resize(
        (round(symbol.width * scale), round(symbol.height * scale)), Image.Resampling.NEAREST
    )
    frame = Image.new("RGB", (width, height), (235, 235, 230))
    frame.paste(symbol, ((width - symbol.width) // 2, (height - symbol.height) // 2))
    return frame


def write_y4m(frame: Image.Image, path: Path, frames: int = 10, fps: int = 15) -> Path:
    """Write ``frames`` copies of ``frame`` as a 4:2:0 Y4M video and return its path."""
    width, height = frame.size
    if width % 2 or height % 2:
        raise ValueError("4:2:0 needs an even width and height")
    y, cb, cr = frame.convert("YCbCr").split()
    half = (width // 2, height // 2)
    planes = (
        y.tobytes()
        + cb.resize(half, Image.Resampling.BILINEAR).tobytes()
        + cr.resize(half, Image.Resampling.BILINEAR).tobytes()
    )
    header = f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode()
    with path.open("wb") as out:
        out.write(header)
        for _ in range(frames):
            out.write(b"FRAME\n")
            out.write(planes)
    return path


def barcode_video(code: str, path: Path) -> Path:
    """Write a Y4M video showing the barcode of ``code`` and return its path."""
    return write_y4m(barcode_frame(code), path)
