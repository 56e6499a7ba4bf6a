"""Durable Spine runs on Temporal: the loop in a workflow, model and tool calls as activities."""
