"""One module per command: HELP, EXAMPLE and run(args, context); its words are in options.COMMANDS."""
