"""Tests of external agent runtimes (Claude Code CLI, Claude Agent SDK) as providers."""
