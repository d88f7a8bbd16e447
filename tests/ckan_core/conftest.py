from __future__ import annotations

import zlib

import pytest

from ckan.tests import factories


@pytest.fixture(autouse=True)
def _reproducible_fake_data(request):
    """Seed the faker of CKAN's factories from the test's id.

    CKAN's factories title datasets with five random English words; about one
    title in two hundred contains "peace", and ``TestPackageQuery.test_overall``
    then fails on ``title:peace`` (with Solr as well: its title field is
    stemmed text). A seed per test makes every run draw the same data, so a
    failure can be reproduced and a pass means the same thing every time.
    """
    factories.fake.seed_instance(zlib.crc32(request.node.nodeid.encode()))
