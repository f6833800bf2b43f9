"""What happens to frames before the network: degradation, resizing, alignment."""
