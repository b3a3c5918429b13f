"""Development tools, never in the production image: `make dev`'s bootstrap (`devtools.dev`), the local
database's commands (`devtools.localdb`), and the machinery tests and benchmarks share (`devtools.testing`)."""
