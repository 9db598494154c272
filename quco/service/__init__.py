"""The HTTP service layer: ``quco serve`` (app, hardened HTTP protocol, abandonable heavy work)."""
