#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""An independent reader of the 8-bit grey and palette PNGs that visage-cli writes, for
the tests: the Python standard library's zlib and the PNG specification's filters, no
image library. For each FILE prints: width height colour_type sha256 of the samples
(row after row, one byte per pixel). With PIL importable (Debian's python3-pil), the
samples are read by PIL too and must agree."""
import hashlib
import struct
import sys
import zlib


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in (0, 3) or interlace != 0:
        raise ValueError(f"{path}: not an 8-bit grey or palette PNG without interlace")
    raw = zlib.decompress(idat)
    rows, prev = [], bytearray(width)
    for y in range(height):
        f = raw[y * (width + 1)]
        line = bytearray(raw[y * (width + 1) + 1:(y + 1) * (width + 1)])
        for x in range(width):
            a = line[x - 1] if x > 0 else 0
            b = prev[x]
            c = prev[x - 1] if x > 0 else 0
            line[x] = (line[x] + (0, a, b, (a + b) // 2, paeth(a, b, c))[f]) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, colour, b"".join(rows)


def main():
    for path in sys.argv[1:]:
        width, height, colour, samples = read(path)
        try:
            from PIL import Image
        except ImportError:
            Image = None
        if Image is not None:
            with Image.open(path) as im:
                if im.tobytes() != samples:
                    raise SystemExit(f"{path}: PIL reads other samples")
        print(width, height, colour, hashlib.sha256(samples).hexdigest())


if __name__ == "__main__":
    main()
