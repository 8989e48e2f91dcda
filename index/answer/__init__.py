"""Answer stage: from retrieved passages to a short, cited answer (or an abstention)."""
