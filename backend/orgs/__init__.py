"""Organisations' people and their lifecycle: sign-up, verification, suspension, members and invitations.

The organisation row itself is the registry's (backend.registry.models.Organisation): a project owner, a court, an
event organiser, a company or a scenic area is an ``org:<id>`` holder like any other.
"""
