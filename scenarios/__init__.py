"""One package per 碳汇+ scenario (tree_duty, events, judicial, tourism), on top of backend services: each its
record, rules, purchases (a purpose of the shared order flow, backend.orders.purposes) and document."""

from flask import Flask

from scenarios import events, judicial, tourism, tree_duty


def init_app(app: Flask) -> None:
    judicial.init_app(app)
    events.init_app(app)
    tree_duty.init_app(app)
    tourism.init_app(app)
