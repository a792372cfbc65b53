"""Vendored, generated Kubernetes schemas (see ray_operator.api.podtemplate_schema); data only."""
