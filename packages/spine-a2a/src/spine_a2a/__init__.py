"""A2A protocol 1.0 client and server for Spine agents."""
