"""The REST API: thin views over the same services and selectors as the pages, one
module per resource.

Each view parses its input with a serializer, calls one service (which checks the
user's role and the team) or reads through a ``*_visible_to`` selector, and answers
with a serializer. Outsiders get 404 and members without the role 403, as on the pages.
"""
