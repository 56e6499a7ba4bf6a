"""`python -m spine`: the `spine` command line."""

from spine.cli import main

main()
