"""Composition: answers, follow-ups, briefings, extractive sentences, citation checks, prompts and the LLM."""
