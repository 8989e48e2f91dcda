"""Evaluation: metrics over answers and loaders for the public dev datasets."""
