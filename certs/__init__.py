"""Webhook serving certificates: a built-in CA bootstrap stored in a Secret, or files from cert-manager."""
