"""The Pulumi program (`__main__.py`), its components, cost estimates and policy pack."""
