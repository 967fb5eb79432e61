"""The evaluator service: stateless consumers that refresh audiences on request."""
