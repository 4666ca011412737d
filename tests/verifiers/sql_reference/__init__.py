"""Reference evaluators vendored under their licences, for comparison tests."""
