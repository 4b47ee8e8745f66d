"""Built-in backbones, datasets and protocols, registered through the public hooks."""
