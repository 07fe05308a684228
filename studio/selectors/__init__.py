"""Reads. Every list starts from a ``*_visible_to(user)`` queryset in studio.permissions."""
