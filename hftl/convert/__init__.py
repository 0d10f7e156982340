"""Converters from other frameworks' pretrained weights to Hugging Face checkpoints."""
