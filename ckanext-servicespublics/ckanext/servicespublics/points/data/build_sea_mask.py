"""Build ``sea_fr.npz``: how far from land each cell around France's territories is.

Not used at run time (the built file is shipped).  Rebuild with::

    pip install global-land-mask==1.0.0 scipy
    python build_sea_mask.py

The source is the GLOBE 1 km land/sea mask (NOAA, public domain) as packaged
by global-land-mask (MIT).  For each territory with a large landmass, the
grid of 1/120 degree cells around its bounding box is reduced to three
classes by a Euclidean distance transform in kilometres: 0 = under 5 km from
land, 1 = 5 to 20 km, 2 = more than 20 km.
"""
from __future__ import annotations

import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

NEAR_KM = 5.0
FAR_KM = 20.0
MARGIN = 0.5  # degrees of land/sea around each box, so that distances are right
#: the Pacific territories are atolls the 1 km grid does not resolve
SKIP = {"986", "987", "988"}


def main() -> None:
    from global_land_mask import globe
    from scipy import ndimage

    from geo import TERRITORIES  # noqa: E402  (the module next door)

    ocean = globe._mask  # True at sea, (21600, 43200), 90N..-90S, 180W..180E
    per_degree = 120
    arrays = {}
    for territory in TERRITORIES:
        if territory.code in SKIP:
            continue
        x0, y0, x1, y1 = territory.bbox
        west, east = x0 - MARGIN, x1 + MARGIN
        south, north = y0 - MARGIN, y1 + MARGIN
        i0 = int(math.floor((90 - north) * per_degree))
        i1 = int(math.ceil((90 - south) * per_degree))
        j0 = int(math.floor((west + 180) * per_degree))
        j1 = int(math.ceil((east + 180) * per_degree))
        sea = ocean[i0:i1, j0:j1]
        mid_lat = math.radians((y0 + y1) / 2)
        cell_y = 111.2 / per_degree
        cell_x = cell_y * math.cos(mid_lat)
        distance = ndimage.distance_transform_edt(sea, sampling=(cell_y, cell_x))
        classes = np.zeros(sea.shape, dtype=np.uint8)
        classes[distance > NEAR_KM] = 1
        classes[distance > FAR_KM] = 2
        arrays[f"grid_{territory.code}"] = classes
        arrays[f"origin_{territory.code}"] = np.array(
            [j0 / per_degree - 180, 90 - i0 / per_degree, per_degree], dtype=np.float64)
        print(territory.code, classes.shape, np.bincount(classes.ravel(), minlength=3))
    np.savez_compressed(os.path.join(HERE, "sea_fr.npz"), **arrays)


if __name__ == "__main__":
    main()
