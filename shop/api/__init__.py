"""Partner API plumbing shared by every app: errors (errors.py), API-key authentication and scopes (auth.py),
throttles (throttling.py), pages (pagination.py), webhook endpoints (views.py), docs text (schema.py).

Nothing is imported here: DRF imports ``shop.api.auth`` while it initialises itself.
"""
