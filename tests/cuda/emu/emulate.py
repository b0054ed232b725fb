#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rewrite a .cu file of engine/cuda into C++ for the host emulation (cuda_runtime.h here).

Every launch `kernel<targs><<<grid, block, shmem, stream>>> (args)` becomes
`::vgemu::launch (dim3 (grid), dim3 (block), FIBERS, [&] () { kernel<targs> (args); })`,
with FIBERS true when the kernel's body (or a __device__ helper it names) synchronises:
__syncthreads, a warp shuffle, or warp_sum/warp_max; a kernel named by a function
parameter (common.cuh's elementwise_run) runs without fibers. Nothing else changes.

usage: emulate.py IN.cu OUT.cpp [HEADER.cuh ...]   (headers: where more kernels live)
"""
import re
import sys

SYNC_WORDS = ("__syncthreads", "__shfl", "warp_sum", "warp_max")


def match_forward(text, i, open_ch, close_ch):
  """Index just past the bracket matching text[i] == open_ch."""
  depth = 0
  while i < len(text):
    c = text[i]
    if c == open_ch:
      depth += 1
    elif c == close_ch:
      depth -= 1
      if depth == 0:
        return i + 1
    i += 1
  raise SystemExit("unbalanced %s" % open_ch)


def kernel_sync_table(sources):
  table = {}
  for text in sources:
    for m in re.finditer(r"__global__\s+void\s+(\w+)\s*\(", text):
      name = m.group(1)
      params_end = match_forward(text, m.end() - 1, "(", ")")
      body_start = text.index("{", params_end)
      body = text[body_start:match_forward(text, body_start, "{", "}")]
      table[name] = any(w in body for w in SYNC_WORDS)
  return table


def split_top(s):
  parts, depth, cur = [], 0, ""
  for c in s:
    if c in "(<[{":
      depth += 1
    elif c in ")>]}":
      depth -= 1
    if c == "," and depth == 0:
      parts.append(cur.strip())
      cur = ""
    else:
      cur += c
  parts.append(cur.strip())
  return parts


def rewrite(text, table):
  out, pos = [], 0
  while True:
    at = text.find("<<<", pos)
    if at < 0:
      out.append(text[pos:])
      return "".join(out)
    # the kernel expression before <<<: an identifier, maybe with template arguments
    j = at
    if text[j - 1] == ">":
      depth = 0
      while True:
        j -= 1
        if text[j] == ">":
          depth += 1
        elif text[j] == "<":
          depth -= 1
          if depth == 0:
            break
    k = j
    while k > 0 and (text[k - 1].isalnum() or text[k - 1] in "_:"):
      k -= 1
    name = text[k:j]
    kernel = text[k:at]
    end_cfg = text.index(">>>", at)
    cfg = split_top(text[at + 3:end_cfg])
    p = end_cfg + 3
    while text[p].isspace():
      p += 1
    if text[p] != "(":
      raise SystemExit("no argument list after <<<...>>> of %s" % name)
    args_end = match_forward(text, p, "(", ")")
    args = text[p:args_end]
    base = name.split("::")[-1]
    # a kernel passed in by a parameter (elementwise_run's) runs without fibers: should it
    # synchronise after all, the emulation stops with a message (emu.cpp)
    fibers = "true" if table.get(base, False) else "false"
    out.append(text[pos:k])
    out.append("::vgemu::launch (dim3 (%s), dim3 (%s), %s, [&] () { %s %s; })"
               % (cfg[0], cfg[1], fibers, kernel, args))
    # keep the line numbers of what follows
    out.append("\n" * text[k:p].count("\n"))
    pos = args_end


def main():
  src, dst = sys.argv[1], sys.argv[2]
  text = open(src).read()
  headers = [open(h).read() for h in sys.argv[3:]]
  table = kernel_sync_table([text] + headers)
  open(dst, "w").write('#line 1 "%s"\n' % src + rewrite(text, table))


if __name__ == "__main__":
  main()
