"""A user's own study outside the invnet package: a family, a solver, a figure and a table,
named by import path in a config (tests/test_plugin_family.py copies this folder to a
temporary place outside the repository and puts it on PYTHONPATH)."""
