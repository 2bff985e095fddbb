"""imagine-bot: /imagine on Discord, images from the 1min.ai API."""

__version__ = "0.1.0"
