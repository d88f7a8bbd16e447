"""Copy the front-end files the product needs from node_modules.

Run by ``dev.sh`` after ``npm ci``::

    python ckanext-servicespublics/ckanext/servicespublics/vendor.py <repo_root>

Each entry of ``FILES`` copies one file of an npm package (declared in the
root ``package.json``) into ``public/vendor/`` of the extension, which is
git-ignored and served under ``/vendor/``. A file is copied only when its
content changed, so running the script again is harmless.

``@etalab/decoupage-administratif`` (the COG reference) is not copied: the
``ckan servicespublics territories load`` command reads it where npm
installed it (or from ``ckanext.servicespublics.territories.source``).
"""
from __future__ import annotations

import filecmp
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENDOR_DIR = os.path.join(HERE, "public", "vendor")

#: (file under node_modules/, destination under public/vendor/)
FILES: list[tuple[str, str]] = [
    # MapLibre GL JS (BSD-3-Clause): the resource map view and the dataset
    # extent map (mapview/); 5.x is the last line with a single UMD file
    ("maplibre-gl/dist/maplibre-gl.js", "maplibre-gl/maplibre-gl.js"),
    ("maplibre-gl/dist/maplibre-gl.css", "maplibre-gl/maplibre-gl.css"),
    ("maplibre-gl/dist/LICENSE.txt", "maplibre-gl/LICENSE.txt"),
]

#: npm packages that must be installed, though nothing is copied from them
REQUIRED_PACKAGES = (
    "@etalab/decoupage-administratif/package.json",
)


def vendor(root: str) -> int:
    """Copy ``FILES``; return how many files changed."""
    node_modules = os.path.join(root, "node_modules")
    missing = [p for p in REQUIRED_PACKAGES + tuple(src for src, _dst in FILES)
               if not os.path.isfile(os.path.join(node_modules, p))]
    if missing:
        raise SystemExit(
            f"vendor.py: missing in {node_modules}: {', '.join(missing)} (run npm ci)")
    changed = 0
    for src, dst in FILES:
        source = os.path.join(node_modules, src)
        target = os.path.join(VENDOR_DIR, dst)
        if os.path.isfile(target) and filecmp.cmp(source, target, shallow=False):
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(source, target)
        changed += 1
    return changed


def main(argv: list[str]) -> None:
    if len(argv) != 2:
        raise SystemExit("usage: python vendor.py <repo_root>")
    changed = vendor(os.path.abspath(argv[1]))
    print(f"vendor.py: {len(FILES)} front-end file(s), {changed} copied")


if __name__ == "__main__":
    main(sys.argv)
