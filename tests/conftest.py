"""Settings shared by every test."""

from hypothesis import settings

# The real services (estates, order host, card service) and the gateways in front of them.
pytest_plugins = ["tests.services"]

# Property tests check behaviour, not speed: the first example may load pint or zoneinfo
# data, and CI machines vary, so no per-example deadline (benchmarks live in bench/).
settings.register_profile("gateway", deadline=None)
settings.load_profile("gateway")
