"""The client commands of `gurulu`, one typer sub-app per resource of the HTTP API.

Each command parses its arguments, makes one or two requests through `gurulu.cli.client`
and hands the reply to `gurulu.cli.output`: a table for people, or with `--json` the API's
body unchanged. No command knows about HTTP status codes; `common.session` turns every
failure into a message on stderr and the exit code of its kind.
"""
