"""Writes. Each service takes the acting user, checks permission first, then changes data."""
