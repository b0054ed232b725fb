# SPDX-License-Identifier: GPL-3.0-or-later
"""Independent reference for the segmentation metrics of `visage-cli eval`.

Plain Python 3, standard library only (zlib for PNG's deflate), so it runs under any
python3. It shares no code with the C engine: its own PNG decoder, its own counting.

    metrics_reference.py [--check EVAL_JSON] TRUTH_DIR PRED_DIR NAME...

reads TRUTH_DIR/NAME.png and PRED_DIR/NAME.png (8-bit palette or grey PNGs, value = class
index) for each NAME and prints JSON:

    confusion       19 x 19 pixel counts, [ground truth][prediction]
    iou, f1         per class; null for a class absent from both truth and prediction
    miou, mean_f1   means over the classes that have a value (all 19 when each occurs)
    pixel_accuracy
    image_miou      {NAME: mean IoU over the classes present in that image's truth or
                     prediction}

With --check, compares instead against the JSON written by `visage-cli eval --json` (the
confusion matrix exactly, the rest within 1e-12) and exits 1 on any difference.

Dataset-level definitions (the report's): one confusion matrix summed over every pixel of
every image; IoU_c = TP / (TP + FP + FN), F1_c = 2 TP / (2 TP + FP + FN).
"""

import collections
import json
import os
import struct
import sys
import zlib

NUM_CLASSES = 19
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    if pb <= pc:
        return b
    return c


def unfilter(data, height, stride, bpp):
    """Undo PNG's per-row filters (spec section 9) and return the raw rows."""
    out = bytearray(height * stride)
    prev = bytearray(stride)
    pos = 0
    for y in range(height):
        ftype = data[pos]
        row = bytearray(data[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        if ftype == 0:
            pass
        elif ftype == 1:
            for i in range(bpp, stride):
                row[i] = (row[i] + row[i - bpp]) & 0xFF
        elif ftype == 2:
            for i in range(stride):
                row[i] = (row[i] + prev[i]) & 0xFF
        elif ftype == 3:
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif ftype == 4:
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                upleft = prev[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + paeth(left, prev[i], upleft)) & 0xFF
        else:
            raise ValueError("bad PNG filter type %d" % ftype)
        out[y * stride:(y + 1) * stride] = row
        prev = row
    return out


def read_index_png(path):
    """(width, height, values): the palette indices or grey values of a 1/2/4/8-bit
    palette or 8-bit grey PNG, row-major, one byte per pixel."""
    with open(path, "rb") as f:
        blob = f.read()
    if blob[:8] != PNG_SIGNATURE:
        raise ValueError("%s: not a PNG file" % path)
    pos = 8
    idat = []
    width = height = depth = ctype = interlace = None
    while pos < len(blob):
        length, kind = struct.unpack(">I4s", blob[pos:pos + 8])
        body = blob[pos + 8:pos + 8 + length]
        if len(body) != length:
            raise ValueError("%s: truncated chunk" % path)
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if ctype not in (0, 3) or interlace != 0:
        raise ValueError("%s: not a non-interlaced palette or grey PNG" % path)
    if ctype == 0 and depth != 8:
        raise ValueError("%s: grey masks must be 8-bit" % path)
    stride = (width * depth + 7) // 8
    raw = unfilter(zlib.decompress(b"".join(idat)), height, stride, max(1, depth // 8))
    if depth == 8:
        return width, height, bytes(raw)
    values = bytearray(width * height)
    per_byte = 8 // depth
    mask = (1 << depth) - 1
    for y in range(height):
        for x in range(width):
            byte = raw[y * stride + x // per_byte]
            shift = 8 - depth * (x % per_byte + 1)
            values[y * width + x] = (byte >> shift) & mask
    return width, height, bytes(values)


def confusion_of(truth, pred):
    """Counter of (t, p) pairs over pixels whose truth is a class (255 = ignore)."""
    counts = collections.Counter(zip(truth, pred))
    return {tp: n for tp, n in counts.items() if tp[0] < NUM_CLASSES and tp[1] < NUM_CLASSES}


def class_scores(cm):
    """Per class (tp, fp, fn) from a dict {(t, p): n}."""
    tp = [0] * NUM_CLASSES
    fp = [0] * NUM_CLASSES
    fn = [0] * NUM_CLASSES
    for (t, p), n in cm.items():
        if t == p:
            tp[t] += n
        else:
            fn[t] += n
            fp[p] += n
    return tp, fp, fn


def close(a, b, tol=1e-12):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol


def check(ref, path):
    """Differences between the reference and visage-cli's JSON, as a list of lines."""
    with open(path) as f:
        got = json.load(f)
    problems = []
    if got["confusion"] != ref["confusion"]:
        problems.append("confusion matrices differ")
    for c in range(NUM_CLASSES):
        cls = got["classes"][c]
        for key in ("iou", "f1"):
            if not close(cls[key], ref[key][c]):
                problems.append("class %d %s: %r, reference %r" % (c, key, cls[key], ref[key][c]))
    for key in ("miou", "mean_f1", "pixel_accuracy"):
        if not close(got[key], ref[key]):
            problems.append("%s: %r, reference %r" % (key, got[key], ref[key]))
    images = {img["name"]: img["miou"] for img in got["images"]}
    if sorted(images) != sorted(ref["image_miou"]):
        problems.append("image names differ: %r" % sorted(images))
    else:
        for name, value in ref["image_miou"].items():
            if not close(images[name], value):
                problems.append("image %s miou: %r, reference %r" % (name, images[name], value))
    if got["n_images"] != len(ref["image_miou"]):
        problems.append("n_images: %r" % got["n_images"])
    return problems


def main(argv):
    check_path = None
    if len(argv) > 2 and argv[1] == "--check":
        check_path = argv[2]
        argv = argv[:1] + argv[3:]
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    truth_dir, pred_dir, names = argv[1], argv[2], argv[3:]
    total = collections.Counter()
    image_miou = {}
    for name in names:
        tw, th, truth = read_index_png(os.path.join(truth_dir, name + ".png"))
        pw, ph, pred = read_index_png(os.path.join(pred_dir, name + ".png"))
        if (tw, th) != (pw, ph):
            raise ValueError("%s: prediction and truth sizes differ" % name)
        cm = confusion_of(truth, pred)
        total.update(cm)
        tp, fp, fn = class_scores(cm)
        ious = [tp[c] / (tp[c] + fp[c] + fn[c]) for c in range(NUM_CLASSES)
                if tp[c] + fp[c] + fn[c] > 0]
        image_miou[name] = sum(ious) / len(ious) if ious else 0.0

    tp, fp, fn = class_scores(total)
    iou, f1 = [], []
    for c in range(NUM_CLASSES):
        den = tp[c] + fp[c] + fn[c]
        iou.append(tp[c] / den if den else None)
        f1.append(2 * tp[c] / (2 * tp[c] + fp[c] + fn[c]) if den else None)
    present_iou = [v for v in iou if v is not None]
    present_f1 = [v for v in f1 if v is not None]
    pixels = sum(total.values())
    result = {
        "confusion": [[total.get((t, p), 0) for p in range(NUM_CLASSES)]
                      for t in range(NUM_CLASSES)],
        "iou": iou,
        "f1": f1,
        "miou": sum(present_iou) / len(present_iou) if present_iou else 0.0,
        "mean_f1": sum(present_f1) / len(present_f1) if present_f1 else 0.0,
        "pixel_accuracy": sum(tp) / pixels if pixels else 0.0,
        "image_miou": image_miou,
    }
    if check_path is not None:
        problems = check(result, check_path)
        for line in problems:
            sys.stderr.write("mismatch: %s\n" % line)
        if problems:
            return 1
        sys.stdout.write("visage-cli eval agrees with the reference on %d images: mIoU %.6f, "
                         "mean F1 %.6f, pixel accuracy %.6f\n"
                         % (len(names), result["miou"], result["mean_f1"],
                            result["pixel_accuracy"]))
        return 0
    json.dump(result, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
