"""Generated from proto/ by scripts/gen-protos.sh; never edit."""
