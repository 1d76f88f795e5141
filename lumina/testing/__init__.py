"""Helpers for checking lumina against PyTorch: reference models written once for either library."""
