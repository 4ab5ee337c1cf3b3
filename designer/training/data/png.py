"""A small PNG decoder, so image folders of PNG files load without Pillow.

Reads non-interlaced PNGs of every colour type at bit depths 1 to 16 (16-bit samples keep their
high byte). Interlaced files are left to Pillow. A picture of more than ``max_pixels`` pixels is
refused from its header, before anything is decompressed, and the image data is decompressed no
further than the size the header declares.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type -> samples per pixel
MAX_PIXELS = 1 << 26  # the default limit; data/files.py passes common.MAX_IMAGE_PIXELS


class PngError(ValueError):
    pass


def _chunks(data: bytes):
    if not data.startswith(SIGNATURE):
        raise PngError("not a PNG file (no PNG signature)")
    pos = len(SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise PngError("the file is cut short")
        yield kind, body
        pos += 12 + length
        if kind == b"IEND":
            return
    raise PngError("the file is cut short (no IEND chunk)")


def header(data: bytes) -> tuple[int, int, int, int, int]:
    """(width, height, bit depth, colour type, interlace) from the IHDR chunk."""
    kind, body = next(_chunks(data))
    if kind != b"IHDR" or len(body) != 13:
        raise PngError("the first chunk is not a valid IHDR")
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
    if colour not in _CHANNELS or depth not in (1, 2, 4, 8, 16) or width < 1 or height < 1:
        raise PngError(f"unsupported PNG header (colour type {colour}, bit depth {depth})")
    return width, height, depth, colour, interlace


def channels(data: bytes) -> int:
    """How many channels the picture has as an image: 1 grey, 3 colour, 2/4 with alpha."""
    _, _, _, colour, _ = header(data)
    return 3 if colour == 3 else _CHANNELS[colour]


def decode(data: bytes, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The picture as uint8 (H, W, C): C is 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA).
    ``PngError`` when it declares more than ``max_pixels`` pixels (width × height)."""
    width, height, depth, colour, interlace = header(data)
    if width * height > max_pixels:
        raise PngError(f"it declares {width}×{height} pixels, more than the {max_pixels} pixels "
                       f"an image may have here")
    if interlace:
        raise PngError("interlaced PNGs need Pillow: pip install pillow")
    palette = None
    idat = []
    for kind, body in _chunks(data):
        if kind == b"PLTE":
            palette = np.frombuffer(body, np.uint8).reshape(-1, 3)
        elif kind == b"IDAT":
            idat.append(body)
    samples = _CHANNELS[colour]
    bits = samples * depth
    stride = (width * bits + 7) // 8
    try:  # never more than the header declares, however far the data would expand
        raw = zlib.decompressobj().decompress(b"".join(idat), height * (stride + 1))
    except zlib.error as error:
        raise PngError(f"the image data is corrupt ({error})") from None
    if len(raw) < height * (stride + 1):
        raise PngError("the image data is cut short")
    rows = _unfilter(raw, height, stride, max(1, bits // 8))
    if depth == 16:
        pixels = rows.reshape(height, width, samples, 2)[..., 0]
    elif depth == 8:
        pixels = rows.reshape(height, width, samples)
    else:
        unpacked = np.unpackbits(rows, axis=1).reshape(height, -1, depth)
        values = unpacked.dot(1 << np.arange(depth - 1, -1, -1)).astype(np.uint8)
        pixels = values[:, :width * samples].reshape(height, width, samples)
        if colour == 0:  # scale grey levels up to 0..255
            pixels = (pixels.astype(np.uint16) * 255 // ((1 << depth) - 1)).astype(np.uint8)
    if colour == 3:
        if palette is None:
            raise PngError("a palette image without a palette")
        index = pixels[..., 0]
        if int(index.max()) >= len(palette):
            raise PngError("a pixel refers past the end of the palette")
        pixels = palette[index]
    return np.ascontiguousarray(pixels)


def _unfilter(raw: bytes, height: int, stride: int, bpp: int) -> np.ndarray:
    out = np.zeros((height, stride), np.uint8)
    prev = np.zeros(stride, np.uint8)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = np.frombuffer(raw, np.uint8, stride, start + 1)
        if kind == 0:
            cur = line.copy()
        elif kind == 1 and stride % bpp == 0:
            cur = np.cumsum(line.reshape(-1, bpp), axis=0, dtype=np.uint8).reshape(-1)
        elif kind == 2:
            cur = line + prev
        elif kind in (1, 3, 4):
            cur = _sequential(kind, line.tolist(), prev.tolist(), bpp)
        else:
            raise PngError(f"unknown row filter {kind}")
        out[y] = cur
        prev = out[y]
    return out


def _sequential(kind: int, line: list[int], prev: list[int], bpp: int) -> np.ndarray:
    cur = [0] * len(line)
    for i, v in enumerate(line):
        a = cur[i - bpp] if i >= bpp else 0
        b = prev[i]
        if kind == 1:
            cur[i] = (v + a) & 255
        elif kind == 3:
            cur[i] = (v + ((a + b) >> 1)) & 255
        else:
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (v + pred) & 255
    return np.array(cur, np.uint8)


def to_mode(pixels: np.ndarray, mode: str) -> np.ndarray:
    """(H, W, C) pixels as "L" (H, W) or "RGB" (H, W, 3), alpha dropped as Pillow does."""
    c = pixels.shape[2]
    colour = pixels[..., :3] if c >= 3 else pixels[..., :1]
    if mode == "RGB":
        return colour if colour.shape[2] == 3 else np.repeat(colour, 3, axis=2)
    if colour.shape[2] == 1:
        return colour[..., 0]
    luma = colour.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.clip(luma + 0.5, 0, 255).astype(np.uint8)


def encode(pixels: np.ndarray, filters: tuple[int, ...] = (0,)) -> bytes:
    """uint8 (H, W) or (H, W, C) as a PNG; row y uses ``filters[y % len(filters)]`` (tests use
    every filter type to check the decoder)."""
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    h, w, c = pixels.shape
    colour = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    rows = pixels.reshape(h, w * c).astype(np.int16)
    body = bytearray()
    prev = np.zeros(w * c, np.int16)
    for y in range(h):
        kind = filters[y % len(filters)]
        cur = rows[y]
        left = np.concatenate([np.zeros(c, np.int16), cur[:-c]])
        upleft = np.concatenate([np.zeros(c, np.int16), prev[:-c]])
        if kind == 0:
            pred = np.zeros_like(cur)
        elif kind == 1:
            pred = left
        elif kind == 2:
            pred = prev
        elif kind == 3:
            pred = (left + prev) // 2
        else:
            p = left + prev - upleft
            pa, pb, pc = abs(p - left), abs(p - prev), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        body.append(kind)
        body += ((cur - pred) & 255).astype(np.uint8).tobytes()
        prev = cur

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return (SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(body)))
            + chunk(b"IEND", b""))
