"""Layer 1: Cython/C hot paths. No policy, no asyncio; everything above calls into here."""
