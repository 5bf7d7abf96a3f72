"""One package per 碳汇+ scenario (tree_duty, events, judicial, tourism), on top of backend services. The scenario
packages arrive with their issues; until then this registers nothing."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Nothing to register yet."""
