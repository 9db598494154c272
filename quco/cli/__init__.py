"""The `quco` command: one module per command group; `quco.cli.main` parses and dispatches."""
