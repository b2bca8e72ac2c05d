"""One subpackage per reproduced paper."""
