#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print 'N passed, N failed[, N skipped]' from one or more meson testlog.json files.

Exit status 1 when any test failed (or no test ran at all), else 0.
"""
import json
import sys

PASSED = {"OK", "EXPECTEDFAIL"}
SKIPPED = {"SKIP"}


def main(paths):
    passed = failed = skipped = 0
    failures = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as log:
                lines = [line for line in log if line.strip()]
        except OSError as error:
            print(f"summary: cannot read {path}: {error}", file=sys.stderr)
            failed += 1
            continue
        for line in lines:
            result = json.loads(line)
            status = result.get("result", "ERROR")
            if status in PASSED:
                passed += 1
            elif status in SKIPPED:
                skipped += 1
            else:
                failed += 1
                failures.append(f"{result.get('name', '?')}: {status}")
    for failure in failures:
        print(f"FAILED {failure}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["build/meson-logs/testlog.json"]))
