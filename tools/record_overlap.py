"""Files that two installed distributions both own, read from every `*.dist-info/RECORD`.

Two wheels that install the same path (the cuDNN and NCCL wheels of CUDA 12 and CUDA 13 do)
overwrite each other: whichever is installed last wins, and a reinstall can flip it. In a GPU
build no two distributions may write different bytes to one path; tools/check_gpu_envs.sh
installs each GPU lock file into a temporary environment and runs this on it.

    python -m tools.record_overlap SITE_PACKAGES [--lock requirements/main-gpu.txt] [--label TEXT]

prints one section (the format tests/test_record_overlap.py reads back) and exits 1 when
two distributions own a file with different contents.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import os
import sys
from collections import defaultdict
from pathlib import Path

EXAMPLES = 3  # shared paths shown per pair of owners


def owners(site_packages) -> dict:
    """{path relative to site-packages: [(owning distribution as "name version", recorded hash)]}."""
    found = defaultdict(list)
    for record in sorted(Path(site_packages).glob("*.dist-info/RECORD")):
        name, _, version = record.parent.name[: -len(".dist-info")].partition("-")
        with open(record, newline="", encoding="utf-8") as rows:
            for row in csv.reader(rows):
                if row:
                    found[os.path.normpath(row[0])].append((f"{name} {version}", row[1] if len(row) > 1 else ""))
    return dict(found)


def _listing(shared: dict) -> list:
    by_owners = defaultdict(list)
    for path, who in sorted(shared.items()):
        by_owners[", ".join(sorted({name for name, _ in who}))].append(path)
    return [f"  {names}: {len(paths)} files, e.g. {', '.join(paths[:EXAMPLES])}"
            for names, paths in sorted(by_owners.items())]


def report(site_packages, label: str) -> tuple:
    """(the section's text, the number of files that distributions own with different contents).

    A file that several distributions own with the same recorded hash (the empty
    `nvidia/__init__.py` of every CUDA 11 wheel) is listed apart: whichever copy is
    written last, the bytes are the same.
    """
    everything = owners(site_packages)
    twice = {path: who for path, who in everything.items() if len({name for name, _ in who}) > 1}
    same = {path: who for path, who in twice.items() if len({h for _, h in who}) == 1 and who[0][1]}
    differ = {path: who for path, who in twice.items() if path not in same}
    distributions = {name for who in everything.values() for name, _ in who}
    lines = [f"== {label}: {len(distributions)} distributions, {len(everything):,} files",
             f"{len(differ)} files owned by two distributions with different contents", *_listing(differ),
             f"{len(same)} files owned by two distributions with the same contents", *_listing(same)]
    return "\n".join(lines) + "\n", len(differ)


def lock_label(lock) -> str:
    """`requirements/<name>.txt (sha256 <first 16 hex digits>)`: which lock a section was built from."""
    path = Path(lock)
    return f"{path.parent.name}/{path.name} (sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:16]})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.record_overlap", description=__doc__.split("\n\n")[0])
    parser.add_argument("site_packages", type=Path)
    parser.add_argument("--lock", help="the lock file the environment was installed from (named with its hash)")
    parser.add_argument("--label", help="what the environment is, when not one lock file")
    args = parser.parse_args(argv)
    if not any(args.site_packages.glob("*.dist-info/RECORD")):
        parser.error(f"{args.site_packages} holds no *.dist-info/RECORD: is it a site-packages folder?")
    text, count = report(args.site_packages,
                         args.label or (lock_label(args.lock) if args.lock else str(args.site_packages)))
    sys.stdout.write(text)
    return 1 if count else 0


if __name__ == "__main__":
    raise SystemExit(main())
