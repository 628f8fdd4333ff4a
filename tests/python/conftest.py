"""Shared pytest settings for the third-party client tests."""
