"""The API service: CRUD, ingest, quota, CSV export, the web app and admin. Thin: it
counts cohorts and previews through the shared rule compiler, and requests refreshes, but
membership changes only in the evaluator."""
