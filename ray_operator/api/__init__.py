"""The RayCluster ``ray.io/v1`` API: models, constants, validation, defaulting and CRD generation.

Everything here is pure and imports nothing else of ours, so the webhook, the controller, the
sandbox and the tests all share one implementation of every rule.
"""
