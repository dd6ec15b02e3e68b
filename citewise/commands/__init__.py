"""CLI commands: each body is thin, the logic lives in the stage packages."""
