import pytest
from django.core.cache import cache

from .site import PublicSite


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    cache.clear()  # the per-IP submission allowance lives in the cache; each test starts from zero
    yield
    cache.clear()


@pytest.fixture
def site(db):
    return PublicSite()
