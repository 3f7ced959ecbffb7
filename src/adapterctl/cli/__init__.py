"""The command line: thin typer commands that parse, call the library, return exit codes."""
