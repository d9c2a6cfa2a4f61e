"""One module per command: HELP, EXAMPLE, add_arguments(parser) and run(args, context)."""
