#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the model card of a bundled model (data/models/<name>.md) and its training curve
(<name>-curve.svg) from what the tools wrote: the JSON of `visage-cli eval --json` and the
log.csv of each training stage, in order. Nothing here is typed in by hand but the
commands. The CPU-hours come from the logs (their cpu_seconds column: the kernel's
accounting of each stage's run, kept across resumes) unless --cpu-hours gives them, for logs
written before that column existed; the card says which.

usage: make-card.py --name visage-s --eval eval.json --stage "COMMAND" log.csv
                    [--stage "COMMAND" log.csv ...] [--cpu-hours H] [--note TEXT]
                    [--role "WHAT THE MODEL IS"] OUTDIR
"""
import argparse
import csv
import json
import os
import sys

LONG_TAIL = {"neck_l", "ear_r", "hat", "eye_g"}


def read_log(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"make-card: {path} has no epochs")
    for r in rows:
        for k in ("epoch", "phase"):
            r[k] = int(r[k])
        for k in ("lr", "train_loss", "val_loss", "val_miou", "seconds", "images_per_s"):
            r[k] = float(r[k])
        # the run's CPU seconds so far; absent in logs written before it was kept
        r["cpu_seconds"] = float(r["cpu_seconds"]) if r.get("cpu_seconds") else None
    return rows


def stage_cpu_hours(rows):
    """The CPU-hours of a stage's run: its last row's cpu_seconds, or None."""
    last = rows[-1]["cpu_seconds"]
    return None if last is None else last / 3600.0


def curve_svg(stages, width=760, height=340):
    """Validation mIoU (left axis, %) and losses (right axis) over the epochs of all stages,
    with a dashed line where a stage or an optimiser phase begins."""
    points = []
    marks = []
    epoch = 0
    for s, (_, rows) in enumerate(stages):
        last_phase = None
        for r in rows:
            epoch += 1
            if s > 0 and r is rows[0]:
                marks.append((epoch, f"stage {s + 1}"))
            elif last_phase is not None and r["phase"] != last_phase:
                marks.append((epoch, f"{r['optimizer']} {r['lr']:.3g}"))
            last_phase = r["phase"]
            points.append((epoch, r["val_miou"] * 100, r["train_loss"], r["val_loss"]))
    n = len(points)
    left, right, top, bottom = 56, 60, 20, 40
    pw, ph = width - left - right, height - top - bottom
    miou_max = max(80.0, max(p[1] for p in points))
    loss_max = max(max(p[2], p[3]) for p in points) * 1.05

    def x(e):
        return left + (pw * (e - 1) / max(n - 1, 1))

    def y_miou(v):
        return top + ph * (1 - v / miou_max)

    def y_loss(v):
        return top + ph * (1 - v / loss_max)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" '
           f'stroke="#888"/>']
    for v in range(0, int(miou_max) + 1, 10):
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y_miou(v):.1f}" '
                   f'y2="{y_miou(v):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{left - 6}" y="{y_miou(v) + 4:.1f}" text-anchor="end">{v}</text>')
    for i in range(6):
        v = loss_max * i / 5
        out.append(f'<text x="{left + pw + 6}" y="{y_loss(v) + 4:.1f}">{v:.2f}</text>')
    for e, label in marks:
        out.append(f'<line x1="{x(e):.1f}" x2="{x(e):.1f}" y1="{top}" y2="{top + ph}" '
                   f'stroke="#999" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{x(e) + 3:.1f}" y="{top + 12}" fill="#555">{label}</text>')
    for idx, colour, scale in ((1, "#1c71d8", y_miou), (2, "#e66100", y_loss),
                               (3, "#26a269", y_loss)):
        path = " ".join(f"{x(p[0]):.1f},{scale(p[idx]):.1f}" for p in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                   f'stroke-width="2"/>')
    out.append(f'<text x="{left + pw / 2}" y="{height - 8}" text-anchor="middle">epoch '
               f'(1 to {n})</text>')
    out.append(f'<text x="{left}" y="{height - 8}" fill="#1c71d8">val mIoU %</text>')
    out.append(f'<text x="{left + pw}" y="{height - 8}" text-anchor="end">'
               f'<tspan fill="#e66100">train loss</tspan> '
               f'<tspan fill="#26a269">val loss</tspan></text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--eval", required=True, help="visage-cli eval --json output")
    ap.add_argument("--stage", nargs=2, action="append", required=True,
                    metavar=("COMMAND", "LOG"), help="a training stage and its log.csv")
    ap.add_argument("--cpu-hours", type=float,
                    help="the CPU-hours of all stages, for logs without a cpu_seconds column")
    ap.add_argument("--eval-command", required=True)
    ap.add_argument("--note", action="append", default=[])
    ap.add_argument("--params", type=int, required=True)
    ap.add_argument("--config", required=True, help="the configuration's spec string")
    ap.add_argument("--recipe", help="the recipe file (data/models/NAME.recipe) of the stages")
    ap.add_argument("--role", default="The model `visage` and `visage-cli` use when none is "
                    "named: a SegFormer", help="what the model is, the card's first words")
    ap.add_argument("outdir")
    a = ap.parse_args()

    with open(a.eval) as f:
        ev = json.load(f)
    stages = [(cmd, read_log(log)) for cmd, log in a.stage]
    n_epochs = sum(len(rows) for _, rows in stages)

    md = [f"# Model card: {a.name}", ""]
    md += [f"{a.role} of {a.params:,} trainable parameters, trained from scratch on the 5,000 training "
           f"images of CelebAMask-HQ as shared with this project, selected on its 800 "
           f"validation images. Weights are stored in F16 (`visage-cli convert --f16`); the "
           f"loader converts them back to F32.", ""]
    md += ["## Configuration", "", f"`{a.config}`", ""]
    if a.recipe:
        md += ["## Reproduce", "",
               f"Every stage below, in order, from scratch (`{os.path.basename(a.recipe)}`; "
               f"continue after any stop with `--resume`):", "", "```sh",
               f"visage-cli train --recipe {a.name} --train ../shared/celebamask/train "
               f"--val ../shared/celebamask/val --out runs/{a.name}",
               "```", ""]
    per_stage = [stage_cpu_hours(rows) for _, rows in stages]
    if a.cpu_hours is not None:
        cpu_text = f"{a.cpu_hours:.1f} CPU-hours (2 cores) in all, as given"
    elif all(h is not None for h in per_stage):
        cpu_text = (f"{sum(per_stage):.1f} CPU-hours in all (the kernel's accounting of the "
                    f"training processes, from the logs' cpu_seconds)")
    else:
        sys.exit("make-card: a stage's log has no cpu_seconds column: give --cpu-hours")
    md += ["## Training", "", f"{n_epochs} epochs in {len(stages)} stage(s), {cpu_text}.", ""]
    for i, (cmd, rows) in enumerate(stages):
        best = max(rows, key=lambda r: r["val_miou"])
        hours = f", {per_stage[i]:.2f} CPU-hours" if per_stage[i] is not None else ""
        md += [f"Stage {i + 1}: {len(rows)} epochs{hours}, best validation mIoU "
               f"{100 * best['val_miou']:.2f}% at its epoch {best['epoch']}.", "",
               "```sh", cmd, "```", ""]
    md += [f"![training curve]({a.name}-curve.svg)", ""]
    md += ["| epoch | stage | optimiser | lr | train loss | val loss | val mIoU % |",
           "|---|---|---|---|---|---|---|"]
    e = 0
    for s, (_, rows) in enumerate(stages):
        for r in rows:
            e += 1
            md.append(f"| {e} | {s + 1} | {r['optimizer']} | {r['lr']:.3g} | "
                      f"{r['train_loss']:.4f} | {r['val_loss']:.4f} | "
                      f"{100 * r['val_miou']:.2f} |")
    md += [""]
    md += ["## Validation", "", "```sh", a.eval_command, "```", "",
           f"{ev['miou_definition']}: **mIoU {100 * ev['miou']:.2f}%**, mean F1 "
           f"{100 * ev['mean_f1']:.2f}%, pixel accuracy {100 * ev['pixel_accuracy']:.2f}% "
           f"({ev['n_images']} images at the model's resolution {ev['resolution']}, "
           f"scored at each image's own size).", "",
           "| id | class | IoU % | F1 % | images | missed |", "|---|---|---|---|---|---|"]
    for c in ev["classes"]:
        flag = " (long tail)" if c["name"] in LONG_TAIL else ""
        md.append(f"| {c['id']} | {c['name']}{flag} | {100 * c['iou']:.2f} | "
                  f"{100 * c['f1']:.2f} | {c['images']} | {c['missed_images']} |")
    md += [""]
    for note in a.note:
        md += [note, ""]

    os.makedirs(a.outdir, exist_ok=True)
    with open(os.path.join(a.outdir, f"{a.name}.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(a.outdir, f"{a.name}-curve.svg"), "w") as f:
        f.write(curve_svg(stages))


if __name__ == "__main__":
    main()
