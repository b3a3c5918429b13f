"""What tests and benchmarks share: throwaway PostgreSQL and PgBouncer servers, data factories, the scripted
stand-in for the model and the labelled emergency corpus."""
