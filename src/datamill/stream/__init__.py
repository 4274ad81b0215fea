"""Streams: Kafka topics in micro-batches through the engine into storage, and HTTP APIs into Kafka."""
