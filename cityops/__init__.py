"""cityops: the command-line entry point and the settings every process starts from."""
