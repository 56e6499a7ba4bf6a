"""Provider tests. `test_*.py` here run on the project's own fixtures (`fixtures/`, see
`fakes.py`) and run everywhere; `recorded/` runs on external recordings of real API exchanges
(`$SPINE_CASSETTES`), skipped with one reason when they are absent (a failure under CI=true)."""
