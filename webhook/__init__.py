"""Validating and mutating admission webhooks for RayCluster, served over HTTPS by aiohttp."""
