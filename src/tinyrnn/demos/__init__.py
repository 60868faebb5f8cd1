"""Demos: one file a demo; each returns its metrics as data and prints only through ``emit``."""
