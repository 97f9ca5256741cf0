"""DRF plumbing shared by every API operation: errors (errors.py), throttles (throttling.py), pages
(pagination.py), one path for several methods (routing.py), docs text (schema.py), the JSON 404 (views.py).

The operations themselves are the partner platform's (``shop.partners.api``). Nothing is imported here: DRF
imports these modules while it initialises itself.
"""
