"""LLM stage (optional): client, prompts, generation with checked citations, fallback."""
