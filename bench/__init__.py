"""`make bench`: latency and resource figures, each printed beside a floor measured in the same run."""
