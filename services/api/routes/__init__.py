"""HTTP routes: each translates a request into a use-case call and its result into a
public shape."""
