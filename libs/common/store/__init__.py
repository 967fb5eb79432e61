"""Queries on the tables that more than one service reads or writes. Each module owns one
table family; every function takes the workspace it is scoped to."""
