"""Experiments that train several runs and summarize them (tables, figures)."""
