"""The sandbox's routes, one module per group: ``jobs`` (account and every catalog service),
``extras`` (voices, chat, embeddings, uploads, the OpenAI proxy), ``root`` (files, health, admin)."""
