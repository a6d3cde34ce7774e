"""The LLM step: redaction, prompts, backends (offline, OpenAI-compatible, Vertex AI) and summaries."""
