"""pytest set-up for the example backends: the hkharness plugin (one test item per golden case).
In your own project: `pytest_plugins = ["hkharness.pytest_plugin"]` in the root conftest.py."""
from hkharness.pytest_plugin import (pytest_addoption, pytest_collection_modifyitems,  # noqa: F401
                                     pytest_configure, pytest_generate_tests, pytest_unconfigure)
