from shop.partners.tests.api.fixtures import *  # noqa: F401,F403
