"""Thermal: psychrometrics, weather, cooling plant and the facility model (PUE emerges)."""

from dcsim.thermal.facility import COOLING_PARTS, LOSS_PARTS, Facility, build_facility
from dcsim.thermal.weather import Weather, build_weather

__all__ = ["Facility", "build_facility", "Weather", "build_weather", "COOLING_PARTS", "LOSS_PARTS"]
