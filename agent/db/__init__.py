"""Database tooling: migrations (yoyo), schema verification, seed data and connection parameters.

`python -m agent.db <apply|rollback|status|verify|seed>` is the operator's entry point (see __main__.py).
"""
