from shop.tests.api.fixtures import *  # noqa: F401,F403
