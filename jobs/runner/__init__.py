"""The runner engine: plan -> lock -> run record -> stages (each in its own error boundary) -> summary."""
