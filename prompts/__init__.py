"""Prompt templates for LLM mode (package data: read with importlib.resources)."""
