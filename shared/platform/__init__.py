"""What binds a function together: settings from its environment, the one wiring, metrics, auth."""
